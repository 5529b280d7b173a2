"""The edges the engine exists for: one path per object at a time, deletion with a time budget.

- A deletion while the POST is in flight waits for its answer, then removes what it created.
- A cancel that takes a minute does not make the deletion give up.
- A Benchmark edited while a drift check is in flight ends with NeMo at the new spec.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from . import shared
from .backends import V1Backend
from .helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest, wait_for
from .test_benchmark import config_ref, nemo_config
from .test_evaljob import job_posts, nemo_jobs_for, ready_benchmark

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

MARKER = "evaluator.nemo.dev/submission"


@pytest.fixture
def backend(emulator: RunningEmulator) -> Iterator[V1Backend]:
    backend = V1Backend(emulator)
    backend.reset()
    yield backend
    backend.reset()
    emulator.control.set_phase_seconds(cancelling=0.5)


def marked(cluster: Cluster, name: str) -> str | None:
    obj = cluster.get("EvalJob", name) or {}
    annotations = obj.get("metadata", {}).get("annotations") or {}
    value = annotations.get(MARKER)
    return value if isinstance(value, str) else None


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"latency_seconds": 3}, id="nemo-creates-the-job-late"),
        pytest.param({"latency_after_seconds": 3}, id="nemo-answers-late"),
    ],
)
def test_delete_during_submission_leaves_no_job(
    cluster: Cluster, emulator: RunningEmulator, fault: dict[str, float]
) -> None:
    """Deleted while its POST is in flight: one job created, and that job removed from NeMo."""
    ready_benchmark(cluster)
    emulator.control.add_fault("POST", "/v1/evaluation/jobs", count=1, **fault)
    cluster.apply(evaljob_manifest("ej", "qa"))
    wait_for(lambda: marked(cluster, "ej"), 30, "the submission marker (written before the POST)")
    uid = cluster.must_get("EvalJob", "ej")["metadata"]["uid"]
    assert cluster.must_get("EvalJob", "ej").get("status", {}).get("jobId") is None
    cluster.delete("EvalJob", "ej")
    cluster.wait_gone("EvalJob", "ej", timeout=90)
    created = [p for p in job_posts(emulator, uid) if p["status"] == 200]
    assert len(created) == 1, created
    assert nemo_jobs_for(emulator, uid) == [], "the job the POST created was left in NeMo"
    reasons = {e.reason for e in cluster.events("ej")}
    assert "CleanupAbandoned" not in reasons, reasons


def test_minute_long_cancel_does_not_abandon_cleanup(
    cluster: Cluster,
    backend: V1Backend,
    emulator: RunningEmulator,
    operator: OperatorProcess,
    operator_kubeconfig: Path,
    tmp_path: Path,
) -> None:
    """NeMo takes 60 s to cancel: the deletion waits it out (default-sized budget) and deletes."""
    operator.stop()  # this test needs the shipped budget, not the suite's short one
    patient = OperatorProcess(
        operator_kubeconfig,
        emulator.base_url,
        tmp_path,
        env={"OPERATOR_DELETE_BUDGET_SECONDS": "300"},
    )
    patient.start()
    try:
        emulator.control.set_phase_seconds(cancelling=60)
        obj = shared.running(cluster, backend, "ej")
        started = time.monotonic()
        cluster.delete("EvalJob", "ej")
        cluster.wait_gone("EvalJob", "ej", timeout=180)
        took = time.monotonic() - started
    finally:
        patient.stop()
        operator.start()
    assert took >= 55, f"gone after {took:.0f}s: the 60 s cancel cannot have been waited out"
    assert backend.job_state(obj) is None, "the job is still in NeMo"
    assert backend.cancel_requests(obj) == 1
    reasons = {e.reason for e in cluster.events("ej")}
    assert "CleanupAbandoned" not in reasons, reasons


def test_benchmark_edited_during_a_drift_check_ends_at_the_new_spec(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    """The drift check's list answers late, with the old config, after the edit was synced."""
    control = emulator.control
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    ref = config_ref(cluster, "qa")
    control.add_fault("GET", "/v1/evaluation/configs", latency_after_seconds=3, count=1)
    wait_for(lambda: control.faults()[0]["hits"] >= 1 or None, 30, "a drift check in flight")
    edited = copy.deepcopy(CUSTOM_CONFIG)
    edited["params"]["limit_samples"] = 7
    cluster.patch_spec("Benchmark", "qa", {"config": edited})
    edited_at = max(r["seq"] for r in control.requests())

    def settled() -> bool:
        later = [
            r
            for r in control.requests(method="GET", path_prefix="/v1/evaluation/configs")
            if r["seq"] > edited_at and r["path"] == "/v1/evaluation/configs" and not r["fault"]
        ]
        return len(later) >= 2  # two whole drift checks after the edit

    wait_for(lambda: settled() or None, 60, "two drift checks after the edit")
    stored = nemo_config(emulator, ref) or {}
    assert stored.get("params", {}).get("limit_samples") == 7, stored.get("params")
    obj = cluster.must_get("Benchmark", "qa")
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

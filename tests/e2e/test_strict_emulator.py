"""The EvalJob end-to-end bodies again, with the emulator in its strict modes.

Each mode is an answer the real NeMo may give where its docs are silent or changed: DELETE of a
job that is not finished refused with 409, cancel of a finished job answered 200 (a no-op)
instead of 409, and academic types (`mmlu`, ...) refused as on deployments that evaluate
custom tasks only. The operator must give the same results in every mode, and say why when a
mode stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator

from . import shared
from .backends import V1Backend
from .helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest, wait_for

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

DEFAULTS = {"delete_running": "allow", "cancel_terminal": "409", "academic_types": "accept"}
MODES = {
    "delete-running-refused": {"delete_running": "refuse"},
    "cancel-terminal-noop": {"cancel_terminal": "noop"},
    "academic-types-rejected": {"academic_types": "reject"},
}


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest, emulator: RunningEmulator) -> Iterator[str]:
    emulator.control.update_settings(**MODES[request.param])
    yield str(request.param)
    emulator.control.update_settings(**DEFAULTS)


@pytest.fixture
def backend(emulator: RunningEmulator) -> Iterator[V1Backend]:
    backend = V1Backend(emulator)
    backend.reset()
    yield backend
    backend.reset()


def refused_deletes(emulator: RunningEmulator) -> list[dict[str, Any]]:
    requests = emulator.control.requests(method="DELETE", path_prefix="/v1/evaluation/jobs/")
    return [r for r in requests if r["status"] == 409]


def test_scores_and_exactly_one_job(cluster: Cluster, backend: V1Backend, mode: str) -> None:
    shared.check_scores_and_exactly_one_job(cluster, backend)


def test_cancel_mid_run(cluster: Cluster, backend: V1Backend, mode: str) -> None:
    shared.check_cancel_mid_run(cluster, backend)


def test_delete_while_active(
    cluster: Cluster, backend: V1Backend, emulator: RunningEmulator, mode: str
) -> None:
    """Cancelled first, deleted once finished: a NeMo that refuses to delete running jobs
    never has to refuse the operator."""
    since = max((r["seq"] for r in emulator.control.requests()), default=0)
    shared.check_delete_while_active(cluster, backend, "Delete")
    assert [r for r in refused_deletes(emulator) if r["seq"] > since] == []


def test_academic_type_refused_with_nemos_words_then_fixed(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    """An `mmlu` Benchmark on a custom-only NeMo: Stalled with NeMo's message, no job posted;
    the EvalJob waits for it and runs once the Benchmark is rewritten as a custom one."""
    emulator.control.update_settings(academic_types="reject")
    try:
        cluster.apply(benchmark_manifest("mmlu", {"type": "mmlu"}))
        stalled = cluster.wait_condition("Benchmark", "mmlu", "Stalled", timeout=60)
        assert stalled["reason"] == "InvalidConfig", stalled
        assert "'mmlu' is not available in this deployment" in stalled["message"], stalled
        cluster.apply(evaljob_manifest("ej", "mmlu"))
        waiting = wait_for(
            lambda: (
                (cluster.condition("EvalJob", "ej", "Ready") or {}).get("reason")
                == "BenchmarkNotReady"
                or None
            ),
            60,
            "the EvalJob to wait for its Benchmark",
        )
        assert waiting
        uid = cluster.must_get("EvalJob", "ej")["metadata"]["uid"]
        posts = emulator.control.requests(method="POST", path_prefix="/v1/evaluation/jobs")
        assert [p for p in posts if uid in str(p.get("body"))] == []
        cluster.apply(benchmark_manifest("mmlu", CUSTOM_CONFIG))
        done = cluster.wait_phase("ej", "Succeeded", timeout=120)
        assert done["status"]["scores"], done["status"]
    finally:
        emulator.control.update_settings(**DEFAULTS)


@pytest.mark.parametrize("cancel_terminal", ["409", "noop"])
def test_cancel_that_arrives_after_the_job_finished_keeps_the_results(
    cluster: Cluster, backend: V1Backend, emulator: RunningEmulator, cancel_terminal: str
) -> None:
    """`spec.cancel` races the job's end: NeMo answers the late cancel with 409 or a no-op 200;
    either way the job completed, so the EvalJob ends Succeeded with its results."""
    control = emulator.control
    control.update_settings(cancel_terminal=cancel_terminal)
    try:
        obj = shared.running(cluster, backend, "ej")
        job_id = obj["status"]["jobId"]
        control.add_fault("POST", f"/v1/evaluation/jobs/{job_id}/cancel", latency_seconds=3)
        cluster.patch_spec("EvalJob", "ej", {"cancel": True})
        wait_for(lambda: control.faults()[0]["hits"] >= 1 or None, 30, "the cancel request")
        control.force_job(job_id, "completed")
        done = cluster.wait_phase("ej", "Succeeded", timeout=60)
    finally:
        control.update_settings(**DEFAULTS)
    cancels = control.requests(method="POST", path_prefix=f"/v1/evaluation/jobs/{job_id}/cancel")
    assert [c["status"] for c in cancels] == [409 if cancel_terminal == "409" else 200]
    assert done["status"]["scores"], done["status"]
    assert cluster.config_map("ej-results") is not None

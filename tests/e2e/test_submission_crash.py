"""SIGKILL the operator at each step of a submission: exactly one NeMo job every time."""

from __future__ import annotations

import time

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from .helpers import Cluster, evaljob_manifest, wait_for
from .test_evaljob import job_posts, nemo_jobs_for, ready_benchmark

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]


def status_of(cluster: Cluster) -> dict[str, object]:
    obj = cluster.get("EvalJob", "ej") or {}
    status = obj.get("status", {})
    assert isinstance(status, dict)
    return status


def marker_of(cluster: Cluster) -> str | None:
    """The submission marker the operator sets (with its finalizer) before it posts."""
    obj = cluster.get("EvalJob", "ej") or {}
    value = (obj.get("metadata", {}).get("annotations") or {}).get("evaluator.nemo.dev/submission")
    return value if isinstance(value, str) else None


def finish_after_restart(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    operator.start()
    obj = cluster.wait_phase("ej", "Succeeded", timeout=60)
    uid = obj["metadata"]["uid"]
    jobs = nemo_jobs_for(emulator, uid)
    assert len(jobs) == 1, jobs
    assert obj["status"]["jobId"] == jobs[0]["id"]


def test_killed_after_marker_before_post(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    """The marker is written but the POST never reaches NeMo (connection refused)."""
    ready_benchmark(cluster)
    fault = emulator.control.add_fault("POST", "/v1/evaluation/jobs", drop=True)
    cluster.apply(evaljob_manifest("ej", "qa"))
    wait_for(lambda: marker_of(cluster), 30, "submission marker")
    wait_for(lambda: emulator.control.faults()[0]["hits"] >= 1, 30, "the POST attempt")
    operator.kill()
    emulator.control.remove_fault(fault)
    assert status_of(cluster).get("jobId") is None
    uid = cluster.must_get("EvalJob", "ej")["metadata"]["uid"]
    assert nemo_jobs_for(emulator, uid) == []
    finish_after_restart(cluster, emulator, operator)


def test_killed_after_post_before_status_write(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    """NeMo creates the job but the operator dies before it learns the id."""
    ready_benchmark(cluster)
    emulator.control.add_fault("POST", "/v1/evaluation/jobs", latency_after_seconds=5)
    cluster.apply(evaljob_manifest("ej", "qa"))
    uid = wait_for(lambda: (cluster.get("EvalJob", "ej") or {}).get("metadata", {}).get("uid"), 10)
    wait_for(lambda: nemo_jobs_for(emulator, uid), 30, "NeMo to create the job")
    operator.kill()
    emulator.control.clear_faults()
    assert status_of(cluster).get("jobId") is None  # the id never reached the cluster
    assert marker_of(cluster)
    finish_after_restart(cluster, emulator, operator)
    assert len(job_posts(emulator, uid)) == 1  # adopted by tag, not posted again


def test_killed_after_status_write(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    ready_benchmark(cluster)
    cluster.apply(evaljob_manifest("ej", "qa"))
    wait_for(lambda: status_of(cluster).get("jobId"), 30, "jobId in status")
    operator.kill()
    time.sleep(0.5)
    finish_after_restart(cluster, emulator, operator)
    uid = cluster.must_get("EvalJob", "ej")["metadata"]["uid"]
    assert len(job_posts(emulator, uid)) == 1

"""Small, deterministic versions of what the fault scenarios exposed, one fault each.

Each test states the behaviour the product promises. A test marked xfail(strict=True) pins a
reported, still open operator bug: once the fix lands it passes, strict xfail turns that into
a failure, and the marker must go.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.e2e.helpers import CUSTOM_CONFIG, benchmark_manifest, evaljob_manifest
from tests.support.controlplane import ControlPlane, ExternalCluster

from .batch import OPERATOR_ENV, nemo_jobs_for, timeline, wait_until
from .stack import Stack

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

CONFIGS = "/v1/evaluation/configs"  # the drift check lists our configs in one paged GET


@pytest.fixture
def operator_env() -> dict[str, str]:
    """Re-check Benchmarks for drift every 2 s, so the faulted re-check comes quickly."""
    return {**OPERATOR_ENV, "OPERATOR_DRIFT_INTERVAL": "2"}


def ready(stack: Stack, kind: str, name: str) -> bool:
    cond = stack.cluster.condition(kind, name, "Ready") or {}
    return cond.get("status") == "True"


def phase(stack: Stack, name: str) -> Any:
    return (stack.cluster.get("EvalJob", name) or {}).get("status", {}).get("phase")


def test_drift_recheck_recovers_after_one_nemo_error(stack: Stack) -> None:
    """One 503 on the drift re-check must not leave the Benchmark (and its EvalJobs) stuck.

    (Found by scenario (a): the re-check timer matched only Ready Benchmarks, so the first
    failed re-check stopped it for good.)
    """
    control = stack.emulator.control
    stack.cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    stack.cluster.wait_condition("Benchmark", "qa", "Ready", timeout=30)
    control.add_fault("GET", CONFIGS, status=503, count=1)
    assert wait_until(lambda: control.faults()[0]["hits"] == 1, 15), "no drift re-check ran"
    failed_at = max(r["seq"] for r in control.requests(path_prefix=CONFIGS) if r["fault"])
    assert ready(stack, "Benchmark", "qa"), "one failed check is not evidence of drift"

    def rechecked_and_ready() -> bool:
        later = control.requests(method="GET", path_prefix=CONFIGS, since=failed_at)
        listed = [r for r in later if r["path"] == CONFIGS and r["status"] == 200]
        return bool(listed) and ready(stack, "Benchmark", "qa")

    assert wait_until(rechecked_and_ready, 20), (
        f"Benchmark still {stack.cluster.condition('Benchmark', 'qa', 'Ready')} 20 s after a "
        "single failed re-check, and NeMo saw no re-check since"
    )
    stack.cluster.apply(evaljob_manifest("ej", "qa"))
    assert wait_until(lambda: phase(stack, "ej") == "Succeeded", 30), phase(stack, "ej")


def test_job_post_processed_after_the_timeout_is_not_duplicated(stack: Stack) -> None:
    """NeMo creates the job 6 s after the operator's 2 s timeout: still one job in the end."""
    control = stack.emulator.control
    stack.cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    stack.cluster.wait_condition("Benchmark", "qa", "Ready", timeout=30)
    control.add_fault("POST", "/v1/evaluation/jobs", latency_seconds=6, count=1)
    stack.cluster.apply(evaljob_manifest("ej", "qa"))
    assert wait_until(lambda: phase(stack, "ej") == "Succeeded", 40), phase(stack, "ej")
    time.sleep(7)  # the slow POST has certainly been processed by now
    uid = stack.cluster.must_get("EvalJob", "ej")["metadata"]["uid"]
    jobs = nemo_jobs_for(stack, uid)
    assert len(jobs) == 1, "\n".join([f"{len(jobs)} NeMo jobs:", *timeline(stack, "ej")])


def test_results_write_during_apiserver_restart_retried_promptly(
    control_plane: ControlPlane | ExternalCluster, stack: Stack
) -> None:
    """The NeMo job completes while kube-apiserver is down; results follow within seconds.

    (Found by scenario (d): a Kubernetes API error in the EvalJob timer used to fall back to
    kopf's default 60 s retry.)
    """
    if not isinstance(control_plane, ControlPlane):
        pytest.skip("an external --kubeconfig cluster cannot restart its kube-apiserver")
    control = stack.emulator.control
    control.set_phase_seconds(running=120)
    config = {**CUSTOM_CONFIG, "params": {"parallelism": 4}}  # no progress: no status churn
    stack.cluster.apply(benchmark_manifest("qa", config))
    stack.cluster.apply(evaljob_manifest("ej", "qa"))
    stack.cluster.wait_phase("ej", "Running", timeout=30)
    control.freeze()  # nothing changes until the API server is on its way down
    finish_job = threading.Timer(1.5, control.advance, args=(600,))
    finish_job.start()
    down_from = time.time()
    control_plane.restart_apiserver()  # main thread: the new process dies with its forker
    down_until = time.time()
    finish_job.join()
    control.unfreeze()
    fetched = [r["time"] for r in control.requests(method="GET") if r["path"].endswith("/results")]
    assert any(down_from < t < down_until for t in fetched), (
        "the operator did not fetch the results while kube-apiserver was down; "
        "this test did not exercise the failed write"
    )
    back = time.monotonic()
    done = wait_until(lambda: phase(stack, "ej") == "Succeeded", 20)
    log = [line for line in stack.operator.output().splitlines() if "will try again" in line]
    assert done, (
        f"EvalJob still {phase(stack, 'ej')} {time.monotonic() - back:.0f} s after "
        f"kube-apiserver came back; operator said: {log[-1:] or 'nothing'}"
    )

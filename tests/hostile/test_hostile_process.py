"""The hostile answers again, through one real operator process: it survives all of them.

The emulator plays NeMo; our fault proxy in front of it makes the answers NeMo never gives on
purpose (a gateway's HTML page, 401/403/413 on submit, 429 with Retry-After, 400 and 409 on
cancel, a stalled results read, a 200 that is not JSON). One operator process meets every case
in turn; each case checks the condition the EvalJob shows and how it ends, and the last test
checks the process: never restarted, no Traceback, every EvalJob with a reasoned, current
status. (tests/hostile/test_hostile_answers.py covers the answers only a fake can give, such
as 100,000 scores, at unit speed against the real API server's validation.)
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from fault_proxy.testing import RunningFaultProxy, run_fault_proxy
from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator
from tests.e2e.helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest
from tests.support.controlplane import Kubectl
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

PHASES = "created=0.2,pending=0.3,running=2,cancelling=0.5"
SUBMIT = r"^/v1/evaluation/jobs$"
RESULTS = r"^/v1/evaluation/jobs/[^/]+/results$"
TIMEOUT = 60.0
OPERATOR_ENV = {
    "OPERATOR_REQUEST_TIMEOUT": "3",
    "OPERATOR_POLL_INTERVAL": "1",
    "OPERATOR_MAX_BACKOFF": "2",
}


@dataclass
class Hostile:
    """One operator process behind the fault proxy, and every EvalJob it met."""

    cluster: Cluster
    emulator: RunningEmulator
    proxy: RunningFaultProxy
    operator: OperatorProcess
    pid: int
    seen: dict[str, set[str]] = field(default_factory=dict)  # EvalJob -> reasons it showed

    def reasons(self, name: str) -> set[str]:
        obj = self.cluster.get("EvalJob", name) or {}
        found = {str(c.get("reason")) for c in (obj.get("status") or {}).get("conditions", [])}
        self.seen.setdefault(name, set()).update(found)
        return self.seen[name]

    def wait_reason(self, name: str, reason: str) -> dict[str, Any]:
        """Until one of the EvalJob's conditions has `reason`; returns that condition."""

        def showing() -> dict[str, Any] | None:
            self.reasons(name)
            obj = self.cluster.get("EvalJob", name) or {}
            for condition in (obj.get("status") or {}).get("conditions", []):
                if condition.get("reason") == reason:
                    return dict(condition)
            return None

        return _wait(showing, f"EvalJob {name} to show reason {reason}")

    def wait_phase(self, name: str, phase: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            self.reasons(name)
            obj = self.cluster.get("EvalJob", name) or {}
            return obj if (obj.get("status") or {}).get("phase") == phase else None

        return _wait(reached, f"EvalJob {name} to reach {phase}")


def _wait(check: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {TIMEOUT:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def hostile(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    kubeconfig: Path,
    crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hostile]:
    assert crds, "the CRDs must be installed before the operator starts"
    namespace = f"t-{secrets.token_hex(4)}"
    core = k8s.CoreV1Api(kube_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    workdir = tmp_path_factory.mktemp("hostile")
    env = {"OPERATOR_WATCH_NAMESPACES": namespace, **OPERATOR_ENV}
    try:
        with (
            run_emulator(phase_seconds=PHASES, log_path=workdir / "emulator.log") as emulator,
            run_fault_proxy(emulator.base_url, log_path=workdir / "proxy.log") as proxy,
        ):
            operator = OperatorProcess(kubeconfig, proxy.base_url, workdir, env=env)
            operator.start()
            try:
                cluster = Cluster(kube_api, kubectl, namespace)
                cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
                cluster.wait_condition("Benchmark", "qa", "Ready", timeout=30)
                assert operator.proc is not None
                yield Hostile(cluster, emulator, proxy, operator, operator.proc.pid)
            finally:
                proxy.control.clear_faults()
                for obj in _evaljobs(kube_api, namespace):  # let the live operator clean up
                    with contextlib.suppress(ApiException):
                        cluster.delete("EvalJob", obj["metadata"]["name"])
                for obj in _evaljobs(kube_api, namespace):
                    with contextlib.suppress(Exception):
                        cluster.wait_gone("EvalJob", obj["metadata"]["name"], timeout=30)
                operator.stop()
    finally:
        with contextlib.suppress(ApiException):
            core.delete_namespace(namespace)


def _evaljobs(api: k8s.ApiClient, namespace: str) -> list[dict[str, Any]]:
    listed = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        "evaluator.nemo.dev", "v1alpha1", namespace, "evaljobs"
    )
    return list(listed["items"])


@contextlib.contextmanager
def rule(hx: Hostile, action: str, path: str, method: str, **spec: Any) -> Iterator[str]:
    rule_id = hx.proxy.control.add_fault(action, path, method=method, path_regex=True, **spec)
    try:
        yield rule_id
    finally:
        hx.proxy.control.remove_fault(rule_id)


@pytest.fixture(autouse=True)
def _no_rules_left(hostile: Hostile) -> Iterator[None]:
    yield
    hostile.proxy.control.clear_faults()
    hostile.emulator.control.set_phase_seconds(running=2)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "EvaluatorAuthFailed"), (403, "EvaluatorAuthFailed"), (413, "SubmissionRefused")],
)
def test_refused_submission_stalls_with_the_evaluators_words_then_recovers(
    hostile: Hostile, status: int, reason: str
) -> None:
    name = f"submit-{status}"
    detail = f"gateway says {status} for this request"
    with rule(hostile, "status", SUBMIT, "POST", status=status, detail=detail):
        hostile.cluster.apply(evaljob_manifest(name, "qa"))
        stalled = hostile.wait_reason(name, reason)
        assert detail in stalled["message"], stalled
        obj = hostile.cluster.must_get("EvalJob", name)
        conditions = {c["type"]: c for c in obj["status"]["conditions"]}
        assert conditions["Stalled"]["status"] == "True", conditions
    hostile.wait_phase(name, "Succeeded")  # the credentials were fixed: it goes on by itself


def test_gateway_html_page_on_submit_is_retried(hostile: Hostile) -> None:
    with rule(hostile, "status", SUBMIT, "POST", preset="gateway_html", status=502, count=2):
        hostile.cluster.apply(evaljob_manifest("submit-502-html", "qa"))
        unavailable = hostile.wait_reason("submit-502-html", "EvaluatorUnavailable")
        assert "502" in unavailable["message"]
        assert len(unavailable["message"]) < 4096, "the HTML page must be cut, not copied"
        done = hostile.wait_phase("submit-502-html", "Succeeded")
    assert done["status"]["jobId"]


def test_rate_limited_polls_honour_retry_after_and_finish(hostile: Hostile) -> None:
    hostile.emulator.control.set_phase_seconds(running=6)
    hostile.cluster.apply(evaljob_manifest("poll-429", "qa"))
    hostile.wait_phase("poll-429", "Running")
    with rule(
        hostile, "status", r"^/v1/evaluation/jobs", "GET", status=429, retry_after=2, count=4
    ):
        limited = hostile.wait_reason("poll-429", "EvaluatorUnavailable")
        assert "429" in limited["message"]
    hostile.wait_phase("poll-429", "Succeeded")


@pytest.mark.parametrize("status", [400, 409])
def test_cancel_refused_is_retried_until_it_takes(hostile: Hostile, status: int) -> None:
    name = f"cancel-{status}"
    hostile.emulator.control.set_phase_seconds(running=120)
    hostile.cluster.apply(evaljob_manifest(name, "qa"))
    hostile.wait_phase(name, "Running")
    cancel = r"^/v1/evaluation/jobs/[^/]+/cancel$"
    with rule(hostile, "status", cancel, "POST", status=status, count=2) as rule_id:
        hostile.cluster.patch_spec("EvalJob", name, {"cancel": True})
        done = hostile.wait_phase(name, "Cancelled")
        assert hostile.proxy.control.fault(rule_id)["fired"] == 2
    assert done["status"]["conditions"]


def test_stalled_results_read_times_out_and_is_retried(hostile: Hostile) -> None:
    with rule(hostile, "timeout", RESULTS, "GET", seconds=6, count=1) as rule_id:
        hostile.cluster.apply(evaljob_manifest("results-stall", "qa"))
        hostile.wait_reason("results-stall", "EvaluatorUnavailable")
        done = hostile.wait_phase("results-stall", "Succeeded")
        assert hostile.proxy.control.fault(rule_id)["fired"] == 1
    assert done["status"]["scores"]


def test_results_that_are_not_json_are_retried(hostile: Hostile) -> None:
    page = "<html><body>upstream sent garbage</body></html>"
    body = {"status": 200, "body": page, "content_type": "text/html", "count": 2}
    with rule(hostile, "status", RESULTS, "GET", **body):
        hostile.cluster.apply(evaljob_manifest("results-html-200", "qa"))
        problem = hostile.wait_reason("results-html-200", "EvaluatorError")
        assert problem["message"], problem
        done = hostile.wait_phase("results-html-200", "Succeeded")
    assert done["status"]["scores"]


def test_a_40_kb_failure_message_is_cut_with_a_marker(hostile: Hostile) -> None:
    hostile.emulator.control.fail_next(1, "inference server exploded: " + "x" * 40_000)
    hostile.cluster.apply(evaljob_manifest("failed-40kb", "qa"))
    failed = hostile.wait_phase("failed-40kb", "Failed")
    assert failed["status"]["message"].endswith("…[cut]")
    assert len(failed["status"]["message"]) <= 32768
    reasons = {c["reason"] for c in failed["status"]["conditions"]}
    assert "JobFailed" in reasons


def test_one_process_met_every_case_and_left_each_with_a_reasoned_status(
    hostile: Hostile,
) -> None:
    operator = hostile.operator
    assert operator.running, operator.tail()
    assert operator.starts == 1
    assert operator.proc is not None
    assert operator.proc.pid == hostile.pid
    assert "Traceback" not in operator.output(), operator.output()[-6000:]
    objects = _evaljobs(hostile.cluster.api, hostile.cluster.namespace)
    assert len(objects) >= 9, [o["metadata"]["name"] for o in objects]
    for obj in objects:
        status = obj.get("status") or {}
        name = obj["metadata"]["name"]
        assert status.get("phase") in ("Succeeded", "Failed", "Cancelled"), (name, status)
        assert status.get("observedGeneration") == obj["metadata"]["generation"], name
        for condition in status["conditions"]:
            assert condition["reason"], (name, condition)
            assert condition.get("lastTransitionTime"), (name, condition)
    print("\nhostile answers and the reasons each EvalJob showed:")
    for name, reasons in sorted(hostile.seen.items()):
        print(f"  {name}: {', '.join(sorted(reasons))}")

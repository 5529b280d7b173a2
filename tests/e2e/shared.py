"""End-to-end test bodies that hold for both evaluator APIs (see `backends.py`).

Each takes a `Cluster` (one fresh namespace with a live operator) and a `Backend`; the v1
tests call them with the emulator, the Helix tests with the real NeMo Helix. They count what
the contract promises: POSTs that *created* a job, cancel requests sent, keys seen by the model.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from tests.support.operator_process import OperatorProcess

from .backends import Backend
from .helpers import Cluster, wait_for

__all__ = [
    "JOB_TIMEOUT",
    "check_cancel_mid_run",
    "check_delete_while_active",
    "check_killed_right_after_post",
    "check_lost_post_answer",
    "check_missing_secret_then_key_reaches_the_model",
    "check_scores_and_exactly_one_job",
]

JOB_TIMEOUT = 240.0  # a Helix job takes 15-40 s on 2 cores; several may share them
CANARY = "canary-7d1e93f0-do-not-leak"
ALLOWED_EVALJOBS = "evaluator.nemo.dev/allowed-evaljobs"
TERMINAL = ("Succeeded", "Failed", "Cancelled")


def benchmark(cluster: Cluster, backend: Backend, name: str = "bm", slow: bool = False) -> None:
    """A Benchmark the evaluator accepted (Ready), in the namespace's own workspace."""
    spec = (backend.slow_benchmark_spec if slow else backend.benchmark_spec)(cluster.namespace)
    cluster.apply(_manifest("Benchmark", name, spec))
    cluster.wait_condition("Benchmark", name, "Ready", timeout=120)


def evaljob(
    cluster: Cluster, backend: Backend, name: str, bm: str = "bm", model: str = "good", **spec: Any
) -> None:
    cluster.apply(
        _manifest(
            "EvalJob", name, {"benchmarkRef": {"name": bm}, "target": backend.target(model), **spec}
        )
    )


def _manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def finished(cluster: Cluster, name: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        obj = cluster.get("EvalJob", name)
        return obj if obj and obj.get("status", {}).get("phase") in TERMINAL else None

    return wait_for(done, timeout, f"EvalJob {name} to finish")


def check_scores_and_exactly_one_job(cluster: Cluster, backend: Backend) -> None:
    """Three models at once: each gets one job, the scores its answers imply, its results."""
    benchmark(cluster, backend)
    models = ("good", "fair", "poor")
    for model in models:
        evaljob(cluster, backend, f"ej-{model}", model=model)
    for model in models:
        obj = finished(cluster, f"ej-{model}")
        status = obj["status"]
        assert status["phase"] == "Succeeded", status
        assert backend.creations(obj) == 1
        for key, value in backend.expected_scores(obj).items():
            assert status["scores"][key] == pytest.approx(value), (key, status["scores"])
        assert status["evaluatorAPI"] == backend.name
        assert status["model"] == model
        assert status["benchmarkGeneration"] == 1
        assert status["configHash"] == cluster.must_get("Benchmark", "bm")["status"]["configHash"]
        cm = cluster.config_map(f"ej-{model}-results")
        assert cm is not None
        text = cm.data.get("results.json") or ""
        assert hashlib.sha256(text.encode()).hexdigest() == status["resultsRef"]["sha256"]
        assert json.loads(text)
        assert cm.metadata.owner_references[0].uid == obj["metadata"]["uid"]
        reasons = {e.reason for e in cluster.events(f"ej-{model}")}
        assert "Succeeded" in reasons, reasons


def running(cluster: Cluster, backend: Backend, name: str, **spec: Any) -> dict[str, Any]:
    """An EvalJob on the slow Benchmark, once its job is really running."""
    if cluster.get("Benchmark", "slow") is None:
        benchmark(cluster, backend, "slow", slow=True)
    evaljob(cluster, backend, name, bm="slow", **spec)
    return cluster.wait_phase(name, "Running", timeout=JOB_TIMEOUT)


def check_cancel_mid_run(cluster: Cluster, backend: Backend) -> None:
    obj = running(cluster, backend, "ej")
    cluster.patch_spec("EvalJob", "ej", {"cancel": True})
    obj = cluster.wait_phase("ej", "Cancelled", timeout=120)
    assert backend.job_state(obj) == "cancelled"
    cancels = backend.cancel_requests(obj)
    assert cancels == 1, f"{cancels} cancel requests for one spec.cancel"
    conds = {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}
    assert conds["Succeeded"] == ("False", "Cancelled")


def check_delete_while_active(cluster: Cluster, backend: Backend, policy: str) -> None:
    obj = running(cluster, backend, "ej", deletionPolicy=policy)
    cluster.delete("EvalJob", "ej")
    cluster.wait_gone("EvalJob", "ej", timeout=120)
    state = backend.job_state(obj)
    if policy == "Delete":
        assert state is None, f"the {backend.name} job is still there: {state}"
        assert backend.cancel_requests(obj) == 1
    else:
        assert state not in (None, "cancelled", "cancelling"), state
        assert backend.cancel_requests(obj) == 0
        backend.cancel_directly(obj)


def check_missing_secret_then_key_reaches_the_model(
    cluster: Cluster, backend: Backend, operator: OperatorProcess
) -> None:
    """Waits for the Secret, then for the Secret to opt in (nothing is sent meanwhile), each
    with a reason; then the key reaches the model and nothing else."""
    benchmark(cluster, backend)
    evaljob(cluster, backend, "ej", apiKeySecretRef={"name": "model-key", "key": "api-key"})
    waiting = _waiting_for(cluster, "SecretNotFound")
    assert "model-key" in _ready(waiting)["message"]
    assert waiting["status"]["phase"] == "Pending"
    assert waiting["status"].get("jobId") is None
    cluster.core.create_namespaced_secret(
        cluster.namespace,
        {
            "metadata": {"name": "model-key"},
            "data": {"api-key": base64.b64encode(CANARY.encode()).decode()},
        },
    )
    refused = _waiting_for(cluster, "SecretNotAllowed")
    assert "kubectl annotate secret model-key" in _ready(refused)["message"]
    # A Secret naming other EvalJobs is re-read and still refused, and nothing was sent.
    _annotate(cluster, "model-key", "other-*")
    wait_for(
        lambda: (
            "(other-*) does not name it" in _ready(cluster.must_get("EvalJob", "ej"))["message"]
        ),
        60,
        "the operator to re-read the Secret's opt-in",
    )
    refused = cluster.must_get("EvalJob", "ej")
    assert refused["status"]["phase"] == "Pending"
    assert backend.attempts(refused) == 0, "a Secret that did not opt in was used"
    _annotate(cluster, "model-key", "other-*,e?")
    obj = finished(cluster, "ej")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert backend.creations(obj) == 1
    assert backend.saw_api_key(CANARY)
    cm = cluster.config_map("ej-results")
    everywhere = [
        operator.output(),
        json.dumps(obj),
        json.dumps(cm.data if cm else {}),
        cluster.kubectl("get", "events", "-n", cluster.namespace, "-o", "yaml").stdout,
    ]
    assert not [text for text in everywhere if CANARY in text]


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def _waiting_for(cluster: Cluster, reason: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = cluster.get("EvalJob", "ej")
        conds = {c["type"]: c for c in (obj or {}).get("status", {}).get("conditions", [])}
        ready, reconciling = conds.get("Ready", {}), conds.get("Reconciling", {})
        waiting = ready.get("reason") == reason and reconciling.get("status") == "True"
        return obj if waiting else None

    return wait_for(check, 60, f"EvalJob ej to wait with reason {reason}")


def _annotate(cluster: Cluster, secret: str, allowed: str) -> None:
    patch = {"metadata": {"annotations": {ALLOWED_EVALJOBS: allowed}}}
    cluster.core.patch_namespaced_secret(secret, cluster.namespace, patch)


def check_lost_post_answer(cluster: Cluster, backend: Backend) -> None:
    """The evaluator creates the job but its answer never arrives: still exactly one job."""
    benchmark(cluster, backend)
    with backend.lose_job_post_answers(1):
        evaljob(cluster, backend, "ej")
        obj = finished(cluster, "ej")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert backend.creations(obj) == 1


def check_killed_right_after_post(
    cluster: Cluster, backend: Backend, operator: OperatorProcess
) -> None:
    """SIGKILL the operator once the evaluator has created the job it never heard back about."""
    benchmark(cluster, backend)
    with backend.lose_job_post_answers(1):
        evaljob(cluster, backend, "ej")
        wait_for(
            lambda: backend.creations(cluster.must_get("EvalJob", "ej")) == 1,
            60,
            "the evaluator to create the job",
        )
        operator.kill()  # it may or may not have adopted the job already: both must end the same
    operator.start()
    obj = finished(cluster, "ej")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert backend.creations(obj) == 1

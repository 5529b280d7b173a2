"""The Argo CD health checks on statuses built by the operator's own status code.

Why: the fixtures in objects/ are hand-written; these cases come from the functions the
operator uses to write status (reconcile.evaljob_status, reconcile.finishing,
reconcile.benchmark), so a change there that breaks the health contract fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from nemo_evaluator_operator.constants import Reason
from nemo_evaluator_operator.evaluator.port import JobObservation, JobRef, JobResults, JobState
from nemo_evaluator_operator.models import (
    Benchmark,
    EvalJob,
    EvalJobPhase,
    EvalJobStatus,
    PassCriterion,
)
from nemo_evaluator_operator.reconcile.benchmark import benchmark_status, definition_for
from nemo_evaluator_operator.reconcile.evaljob_status import (
    active_conditions,
    terminal_conditions,
    waiting_conditions,
)
from nemo_evaluator_operator.reconcile.failures import Failure, FailureKind
from nemo_evaluator_operator.reconcile.finishing import finish_completed
from nemo_evaluator_operator.reconcile.ports import ConfigMapSpec
from tests.deploy.argocd_lua import OBJECTS_DIR, HealthScript

NOW = "2026-05-01T10:00:00Z"
EVALJOB = OBJECTS_DIR / "EvalJob" / "testdata" / "no-status.yaml"
BENCHMARK = OBJECTS_DIR / "Benchmark" / "testdata" / "no-status.yaml"
Build = Callable[[EvalJob], EvalJobStatus]


def _evaljob(criteria: list[PassCriterion] | None = None) -> EvalJob:
    ej = EvalJob.model_validate(yaml.safe_load(EVALJOB.read_text()))
    if criteria:
        ej.spec.pass_criteria = criteria
    return ej


def _body(resource: EvalJob | Benchmark, status: Any) -> dict[str, Any]:
    """The object as the API server would return it after the operator's status patch."""
    obj: dict[str, Any] = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    obj["status"] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def _active(phase: EvalJobPhase, reason: str, message: str) -> Build:
    def build(ej: EvalJob) -> EvalJobStatus:
        status = EvalJobStatus(phase=phase, message=message)
        return active_conditions(ej, status, reason, message, NOW)

    return build


def _waiting(stalled: bool, message: str) -> Build:
    def build(ej: EvalJob) -> EvalJobStatus:
        return waiting_conditions(
            ej, EvalJobStatus(), Reason.BENCHMARK_NOT_FOUND, message, stalled, NOW
        )

    return build


def _terminal(phase: EvalJobPhase, reason: str, message: str) -> Build:
    def build(ej: EvalJob) -> EvalJobStatus:
        return terminal_conditions(ej, EvalJobStatus(), phase, reason, message, NOW)

    return build


EVALJOB_CASES: dict[str, tuple[Build, str, str]] = {
    "waiting-for-benchmark": (
        _waiting(False, "Benchmark qa-bleu not found"),
        "Progressing",
        "Benchmark qa-bleu not found",
    ),
    "stalled-waiting": (
        _waiting(True, "Benchmark qa-bleu not found after 300s"),
        "Degraded",
        "Benchmark qa-bleu not found after 300s",
    ),
    "submitted": (
        _active(EvalJobPhase.SUBMITTED, Reason.SUBMITTED, "NeMo job j-1 submitted"),
        "Progressing",
        "NeMo job j-1 submitted",
    ),
    "running": (
        _active(EvalJobPhase.RUNNING, Reason.RUNNING, "NeMo job j-1 is running"),
        "Progressing",
        "NeMo job j-1 is running",
    ),
    "evaluator-unavailable": (
        _active(EvalJobPhase.RUNNING, Reason.EVALUATOR_UNAVAILABLE, "NeMo down; retrying"),
        "Progressing",
        "NeMo down; retrying",
    ),
    "succeeded": (
        _terminal(EvalJobPhase.SUCCEEDED, Reason.SUCCEEDED, "Results written to ConfigMap x"),
        "Healthy",
        "Results written to ConfigMap x",
    ),
    "failed": (
        _terminal(EvalJobPhase.FAILED, Reason.JOB_FAILED, "NeMo reported the job as failed"),
        "Degraded",
        "NeMo reported the job as failed",
    ),
    "deadline": (
        _terminal(EvalJobPhase.FAILED, Reason.DEADLINE_EXCEEDED, "activeDeadlineSeconds passed"),
        "Degraded",
        "activeDeadlineSeconds passed",
    ),
    "cancelled": (
        _terminal(EvalJobPhase.CANCELLED, Reason.CANCELLED, "NeMo job j-1 was cancelled"),
        "Degraded",
        "NeMo job j-1 was cancelled",
    ),
}


@pytest.fixture(scope="module")
def evaljob_health() -> HealthScript:
    return HealthScript.for_kind("EvalJob")


@pytest.fixture(scope="module")
def benchmark_health() -> HealthScript:
    return HealthScript.for_kind("Benchmark")


@pytest.mark.parametrize("name", list(EVALJOB_CASES))
def test_evaljob_status_from_operator(name: str, evaljob_health: HealthScript) -> None:
    build, want_status, want_message = EVALJOB_CASES[name]
    ej = _evaljob()
    health = evaljob_health(_body(ej, build(ej)))
    assert health == {"status": want_status, "message": want_message}


class _Evaluator:
    """Just enough of NeMo for finish_completed: the results of one job."""

    def __init__(self, results: JobResults) -> None:
        self._results = results

    async def results(self, ref: JobRef) -> JobResults:
        return self._results


class _Kube:
    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None:
        return None


@pytest.mark.parametrize(
    ("minimum", "want"), [(30.0, "Healthy"), (40.0, "Degraded")], ids=["gate-passed", "gate-failed"]
)
async def test_gate_outcome_from_operator(
    minimum: float, want: str, evaljob_health: HealthScript
) -> None:
    ej = _evaljob([PassCriterion(metric="qa.bleu.sentence", min=minimum)])
    document = {"tasks": {"qa": {"metrics": {"bleu": {"scores": {"sentence": {"value": 31.2}}}}}}}
    results = JobResults(scores={"qa.bleu.sentence": 31.2}, document=document)
    job = JobObservation(
        ref=JobRef("team-a", "j-1"), state=JobState.SUCCEEDED, raw_state="completed"
    )
    status = EvalJobStatus(phase=EvalJobPhase.RUNNING, job_id="j-1")
    # Partial fakes: finish_completed only reads results and writes ConfigMaps.
    evaluator: Any = _Evaluator(results)
    kube: Any = _Kube()
    transition = await finish_completed(ej, status, job, evaluator, kube, NOW)
    health = evaljob_health(_body(ej, transition.status))
    assert health["status"] == want
    if want == "Degraded":
        assert "qa.bleu.sentence" in health["message"]


def _benchmark() -> Benchmark:
    return Benchmark.model_validate(yaml.safe_load(BENCHMARK.read_text()))


@pytest.mark.parametrize(
    ("failure", "want"),
    [
        (None, "Healthy"),
        (
            Failure(FailureKind.REJECTED, Reason.INVALID_CONFIG, "NeMo rejected the config: 422"),
            "Degraded",
        ),
        (Failure(FailureKind.STALLED, Reason.UNSUPPORTED_API, "serves neither API"), "Degraded"),
        (Failure(FailureKind.TRANSIENT, Reason.EVALUATOR_UNAVAILABLE, "NeMo down"), "Progressing"),
        (Failure(FailureKind.OTHER, Reason.EVALUATOR_ERROR, "HTTP 403"), "Progressing"),
    ],
    ids=["synced", "rejected", "stalled", "transient", "other"],
)
def test_benchmark_status_from_operator(
    failure: Failure | None, want: str, benchmark_health: HealthScript
) -> None:
    bm = _benchmark()
    status = benchmark_status(bm, definition_for(bm, "team-a"), NOW, failure)
    health = benchmark_health(_body(bm, status))
    assert health["status"] == want
    if failure is not None:
        assert health["message"] == failure.message

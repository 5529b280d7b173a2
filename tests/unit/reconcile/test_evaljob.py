"""EvalJob reconcile steps, table-driven against in-memory ports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nemo_evaluator_operator.evaluator.errors import (
    EvaluatorConnectionError,
    RateLimitedError,
    ServerError,
    UnprocessableEntityError,
)
from nemo_evaluator_operator.models import EvalJob, EvalJobPhase
from nemo_evaluator_operator.reconcile.evaljob import EvalJobContext, reconcile_evaljob
from nemo_evaluator_operator.reconcile.exactly_once import Attempt, Marker

from .fakes import FakeEvaluator, FakeKube, v1_port

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
MARKER = "evaluator.nemo.dev/submission"
CREATED = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
UID = "uid-1234"
API_KEY = "canary-key-0123456789"


def evaljob(
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> EvalJob:
    return EvalJob.model_validate(
        {
            "apiVersion": "evaluator.nemo.dev/v1alpha1",
            "kind": "EvalJob",
            "metadata": {
                "name": "ej",
                "namespace": "team-a",
                "uid": UID,
                "generation": 1,
                "creationTimestamp": CREATED,
                "annotations": annotations or {},
            },
            "spec": {
                "benchmarkRef": {"name": "qa"},
                "target": {
                    "type": "model",
                    "model": {
                        "api_endpoint": {"url": "http://nim/v1/completions", "model_id": "m"}
                    },
                },
                **(spec or {}),
            },
            "status": status or {},
        }
    )


def ready_benchmark(generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "Benchmark",
        "metadata": {"name": "qa", "namespace": "team-a", "generation": generation},
        "spec": {"config": {"type": "custom"}},
        "status": {
            "observedGeneration": observed,
            "configName": "default/team-a-qa-1",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "ConfigSynced",
                    "lastTransitionTime": CREATED,
                }
            ],
        },
    }


def world(benchmark: bool = True) -> tuple[FakeEvaluator, FakeKube]:
    kube = FakeKube()
    if benchmark:
        kube.benchmarks[("team-a", "qa")] = ready_benchmark()
    kube.secrets[("team-a", "key")] = {"api-key": API_KEY}
    return FakeEvaluator(), kube


def ctx(
    evaluator: FakeEvaluator, kube: FakeKube, now: datetime = NOW, grace: float = 60
) -> EvalJobContext:
    return EvalJobContext(
        evaluator=v1_port(evaluator), kube=kube, grace_seconds=grace, now=now, resubmit_after=10
    )


def conditions(status: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


async def test_submits_once_with_marker_before_post_and_id_right_after() -> None:
    evaluator, kube = world()
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "api-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert evaluator.names() == ["create_job"]
    body = evaluator.calls[0][1]
    assert body["config"] == "default/team-a-qa-1"
    assert body["namespace"] == "default"
    assert body["custom_fields"]["evaljob_uid"] == UID
    assert body["target"]["model"]["api_endpoint"]["api_key"] == API_KEY
    assert "api_key" not in json.dumps(ej.spec.target)  # the spec itself is untouched
    (marker,) = kube.metadata_patches  # finalizer and marker, before the POST, with a precondition
    assert marker["finalizers"] == ["evaluator.nemo.dev/finalizer"]
    assert json.loads(marker["annotations"]["evaluator.nemo.dev/submission"])["attempt"] == 1
    assert result.status.job_id == "eval-1"  # the engine writes it the moment this returns
    assert result.status.submission_started_at
    assert result.status.phase is EvalJobPhase.SUBMITTED
    assert conditions(result.status)["Reconciling"] == ("True", "Submitted")
    assert result.events == []  # the ordinary path posts one event, at the end
    assert result.submitted == "created"
    assert API_KEY not in result.status.model_dump_json()


async def test_resume_with_marker_adopts_the_job_instead_of_posting_again() -> None:
    evaluator, kube = world()
    await evaluator.create_job({"custom_fields": {"evaljob_uid": UID}, "config": "x", "target": {}})
    await evaluator.create_job(
        {"custom_fields": {"evaljob_uid": "someone-else"}, "config": "x", "target": {}}
    )
    evaluator.calls.clear()
    ej = evaljob(status={"submissionStartedAt": CREATED})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert evaluator.names() == ["find_jobs"]
    assert result.status.job_id == "eval-1"
    assert conditions(result.status)["Reconciling"] == ("True", "Adopted")


async def test_resume_with_marker_and_no_job_posts_once() -> None:
    evaluator, kube = world()
    result = await reconcile_evaljob(
        evaljob(status={"submissionStartedAt": CREATED}), ctx(evaluator, kube)
    )
    assert evaluator.names() == ["find_jobs", "create_job"]
    assert result.status.job_id == "eval-1"


async def test_known_job_id_in_memory_prevents_a_second_post() -> None:
    evaluator, kube = world()
    await evaluator.create_job({"config": "x", "target": {}})
    evaluator.calls.clear()
    c = ctx(evaluator, kube)
    c.attempt = Attempt(Marker(1, NOW), job_id="eval-1")  # posted, id not in status yet
    result = await reconcile_evaljob(evaljob(), c)
    assert evaluator.names() == ["get_job"]
    assert result.status.job_id == "eval-1"


@pytest.mark.parametrize(
    ("benchmark", "secret_ref", "reason"),
    [
        (None, None, "BenchmarkNotFound"),
        (ready_benchmark(generation=2, observed=1), None, "BenchmarkNotReady"),
        (ready_benchmark(), {"name": "missing", "key": "api-key"}, "SecretNotFound"),
        (ready_benchmark(), {"name": "key", "key": "wrong"}, "SecretKeyNotFound"),
    ],
)
@pytest.mark.parametrize(("grace", "stalled"), [(3600, False), (1, True)])
async def test_missing_dependencies_wait_then_stall(
    benchmark: dict[str, Any] | None,
    secret_ref: dict[str, str] | None,
    reason: str,
    grace: float,
    stalled: bool,
) -> None:
    evaluator, kube = world(benchmark=False)
    if benchmark is not None:
        kube.benchmarks[("team-a", "qa")] = benchmark
    spec = {"apiKeySecretRef": secret_ref} if secret_ref else {}
    result = await reconcile_evaljob(evaljob(spec), ctx(evaluator, kube, grace=grace))
    assert evaluator.calls == []
    assert result.status.phase is EvalJobPhase.PENDING
    conds = conditions(result.status)
    assert conds["Stalled"] == ("True" if stalled else "False", reason)
    assert conds["Reconciling"] == ("False" if stalled else "True", reason)
    assert conds["Succeeded"] == ("Unknown", reason)


async def test_rejected_submission_is_terminal_with_nemo_message_and_no_secret() -> None:
    evaluator, kube = world()
    evaluator.fail["create_job"] = UnprocessableEntityError(
        status_code=422,
        detail=f"body.target: bad key {API_KEY}",
        body={},
        method="POST",
        path="/v1/evaluation/jobs",
    )
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "api-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert result.status.phase is EvalJobPhase.FAILED
    assert conditions(result.status)["Stalled"] == ("True", "SubmissionRejected")
    assert "body.target: bad key" in (result.status.message or "")
    assert API_KEY not in result.status.model_dump_json()
    assert all(API_KEY not in e.message for e in result.events)


async def test_retry_after_on_a_submission_reaches_the_engine() -> None:
    """A 429 that says how long to wait: the wait is the server's, not our backoff's."""
    evaluator, kube = world()
    evaluator.fail["create_job"] = RateLimitedError(
        status_code=429,
        detail="slow down",
        body={},
        method="POST",
        path="/v1/evaluation/jobs",
        retry_after=120.0,
    )
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "api-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert result.retry_after == 120.0
    assert conditions(result.status)["Reconciling"] == ("True", "EvaluatorUnavailable")


@pytest.mark.parametrize(
    "error",
    [
        ServerError(
            status_code=503, detail="down", body={}, method="POST", path="/v1/evaluation/jobs"
        ),
        EvaluatorConnectionError("refused", method="POST", path="/v1/evaluation/jobs"),
    ],
)
async def test_transient_submission_error_keeps_marker_and_retries(error: Exception) -> None:
    evaluator, kube = world()
    evaluator.fail["create_job"] = error  # type: ignore[assignment]
    result = await reconcile_evaljob(evaljob(), ctx(evaluator, kube))
    assert result.retry_after is not None
    assert result.status.job_id is None
    assert len(kube.metadata_patches) == 1  # the marker stays: the next attempt looks up first
    assert conditions(result.status)["Reconciling"] == ("True", "EvaluatorUnavailable")
    marker = json.loads(kube.metadata_patches[0]["annotations"][MARKER])
    assert marker["attempt"] == 1
    earlier = Marker(1, NOW - timedelta(seconds=30)).to_json()  # past the quiet period
    retry = await reconcile_evaljob(evaljob(annotations={MARKER: earlier}), ctx(evaluator, kube))
    assert evaluator.names()[-2:] == ["find_jobs", "create_job"]
    assert retry.status.job_id is not None


def submitted(evaluator: FakeEvaluator, state: str, details: dict[str, Any] | None = None) -> str:
    job_id = f"eval-{len(evaluator.jobs) + 1}"
    evaluator.jobs[job_id] = {
        "id": job_id,
        "status": state,
        "status_details": details or {},
        "custom_fields": {"evaljob_uid": UID},
    }
    return job_id


@pytest.mark.parametrize(
    ("state", "phase", "reconciling"),
    [
        ("created", EvalJobPhase.SUBMITTED, "True"),
        ("pending", EvalJobPhase.SUBMITTED, "True"),
        ("running", EvalJobPhase.RUNNING, "True"),
        ("failed", EvalJobPhase.FAILED, "False"),
        ("cancelled", EvalJobPhase.CANCELLED, "False"),
    ],
)
async def test_nemo_states_map_to_phases(state: str, phase: EvalJobPhase, reconciling: str) -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, state, {"message": "boom" if state == "failed" else None})
    result = await reconcile_evaljob(
        evaljob(status={"jobId": job_id, "phase": "Submitted"}), ctx(evaluator, kube)
    )
    assert result.status.phase is phase
    assert conditions(result.status)["Reconciling"][0] == reconciling
    if state == "failed":
        assert result.status.message == "boom"
        assert conditions(result.status)["Stalled"] == ("True", "JobFailed")


async def test_progress_is_copied_and_running_event_posted_once() -> None:
    evaluator, kube = world()
    job_id = submitted(
        evaluator,
        "running",
        {"progress": 40.0, "samples_processed": 20, "task_status": {"qa": "running"}},
    )
    first = await reconcile_evaljob(
        evaljob(status={"jobId": job_id, "phase": "Submitted"}), ctx(evaluator, kube)
    )
    assert (first.status.progress, first.status.samples_processed) == (40.0, 20)
    assert first.status.task_status == {"qa": "running"}
    assert first.status.started_at is not None
    assert first.events == []  # Running shows in the phase column, not as an event
    again = await reconcile_evaljob(
        evaljob(status=first.status.model_dump(by_alias=True, exclude_none=True, mode="json")),
        ctx(evaluator, kube),
    )
    assert again.events == []
    assert again.status == first.status  # no change → the handler writes nothing


async def test_unknown_status_is_reported_not_fatal() -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, "paused-by-admin")
    result = await reconcile_evaljob(
        evaljob(status={"jobId": job_id, "phase": "Running"}), ctx(evaluator, kube)
    )
    assert result.status.phase is EvalJobPhase.RUNNING
    assert conditions(result.status)["Reconciling"] == ("True", "UnknownJobStatus")
    assert "paused-by-admin" in (result.status.message or "")


async def test_job_deleted_behind_our_back_fails_clearly() -> None:
    evaluator, kube = world()
    ej = evaljob(status={"jobId": "eval-gone", "phase": "Running"})
    c = ctx(evaluator, kube)
    first = await reconcile_evaljob(ej, c)  # one 404 may be a gateway's: look once more
    assert first.status.phase is EvalJobPhase.RUNNING
    assert conditions(first.status)["Reconciling"] == ("True", "JobMissing")
    result = await reconcile_evaljob(ej, c)
    assert result.status.phase is EvalJobPhase.FAILED
    assert conditions(result.status)["Stalled"] == ("True", "JobNotFound")


async def test_cancel_request_posts_cancel_once() -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, "running")
    ej = evaljob({"cancel": True}, {"jobId": job_id, "phase": "Running"})
    first = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert evaluator.names() == ["get_job", "cancel_job"]
    assert conditions(first.status)["Reconciling"] == ("True", "Cancelling")
    evaluator.calls.clear()
    await reconcile_evaljob(ej, ctx(evaluator, kube))  # now "cancelling": no second POST
    assert evaluator.names() == ["get_job"]
    evaluator.jobs[job_id]["status"] = "cancelled"
    done = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert done.status.phase is EvalJobPhase.CANCELLED


async def test_cancel_before_submission_never_posts() -> None:
    evaluator, kube = world()
    result = await reconcile_evaljob(evaljob({"cancel": True}), ctx(evaluator, kube))
    assert evaluator.calls == []
    assert result.status.phase is EvalJobPhase.CANCELLED


async def test_deadline_cancels_then_fails_with_deadline_exceeded() -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, "running")
    ej = evaljob({"activeDeadlineSeconds": 10}, {"jobId": job_id, "phase": "Running"})
    await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert "cancel_job" in evaluator.names()
    evaluator.jobs[job_id]["status"] = "cancelled"
    done = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert done.status.phase is EvalJobPhase.FAILED
    assert conditions(done.status)["Succeeded"] == ("False", "DeadlineExceeded")


async def test_terminal_evaljob_costs_nothing() -> None:
    evaluator, kube = world()
    result = await reconcile_evaljob(
        evaljob(status={"jobId": "eval-1", "phase": "Succeeded"}), ctx(evaluator, kube)
    )
    assert evaluator.calls == []
    assert kube.status_patches == []
    assert result.events == []


RESULTS = {
    "id": "evaluation_result-1",
    "job": "eval-1",
    "tasks": {
        "qa": {
            "metrics": {
                "bleu": {"scores": {"sentence": {"value": 31.2}, "corpus": {"value": 28.7}}}
            }
        }
    },
    "groups": {},
}


@pytest.mark.parametrize(
    ("criteria", "phase", "passed"),
    [
        ([], EvalJobPhase.SUCCEEDED, None),
        (
            [{"metric": "qa.bleu.sentence", "min": 30}],
            EvalJobPhase.SUCCEEDED,
            ("True", "CriteriaPassed"),
        ),
        (
            [{"metric": "qa.bleu.sentence", "min": 40}],
            EvalJobPhase.FAILED,
            ("False", "CriteriaFailed"),
        ),
        ([{"metric": "qa.rouge.f", "min": 0}], EvalJobPhase.FAILED, ("False", "MetricNotFound")),
    ],
)
async def test_completed_job_writes_results_then_judges_gate(
    criteria: list[dict[str, Any]], phase: EvalJobPhase, passed: tuple[str, str] | None
) -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, "completed")
    evaluator.results[job_id] = RESULTS
    ej = evaljob({"passCriteria": criteria}, {"jobId": job_id, "phase": "Running"})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert result.status.phase is phase
    assert set(kube.config_maps) == {"ej-results"}
    stored = json.loads(kube.config_maps["ej-results"].data["results.json"])
    assert stored == RESULTS
    assert kube.config_maps["ej-results"].labels["evaluator.nemo.dev/benchmark"] == "qa"
    assert result.status.scores == {"qa.bleu.sentence": 31.2, "qa.bleu.corpus": 28.7}
    assert result.status.results_ref is not None
    assert result.status.results_ref.config_map == "ej-results"
    assert conditions(result.status).get("Passed") == passed
    assert conditions(result.status)["Ready"][0] == (
        "True" if phase is EvalJobPhase.SUCCEEDED else "False"
    )


async def test_results_failure_keeps_the_job_active_so_nothing_is_lost() -> None:
    evaluator, kube = world()
    job_id = submitted(evaluator, "completed")
    evaluator.results[job_id] = RESULTS
    evaluator.fail["get_results"] = ServerError(
        status_code=500, detail="x", body={}, method="GET", path="/r"
    )
    result = await reconcile_evaljob(
        evaljob(status={"jobId": job_id, "phase": "Running"}), ctx(evaluator, kube)
    )
    assert result.status.phase is EvalJobPhase.RUNNING
    assert result.retry_after is not None
    again = await reconcile_evaljob(
        evaljob(status={"jobId": job_id, "phase": "Running"}), ctx(evaluator, kube)
    )
    assert again.status.phase is EvalJobPhase.SUCCEEDED


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ({"type": "model", "model": "ns/urn"}, "apiKeySecretRef needs"),
        (
            {
                "type": "model",
                "model": {"api_endpoint": {"url": "u", "model_id": "m", "api_key": "k"}},
            },
            "must not contain api_key",
        ),
    ],
)
async def test_specs_that_can_never_work_fail_at_once(target: dict[str, Any], says: str) -> None:
    evaluator, kube = world()
    spec = {"target": target, "apiKeySecretRef": {"name": "key", "key": "api-key"}}
    if "api_endpoint" in str(target):
        spec.pop("apiKeySecretRef")
    result = await reconcile_evaljob(evaljob(spec), ctx(evaluator, kube))
    assert evaluator.calls == []
    assert result.status.phase is EvalJobPhase.FAILED
    assert conditions(result.status)["Stalled"] == ("True", "InvalidSpec")
    assert says in (result.status.message or "")
    assert "k" not in (result.status.message or "").split()


async def test_fresh_marker_waits_for_an_earlier_attempt_instead_of_posting() -> None:
    evaluator, kube = world()
    fresh = (NOW - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = await reconcile_evaljob(
        evaljob(status={"submissionStartedAt": fresh}), ctx(evaluator, kube)
    )
    assert evaluator.names() == ["find_jobs"]  # looked, did not post
    assert result.status.phase is EvalJobPhase.PENDING
    assert conditions(result.status)["Reconciling"] == ("True", "Submitting")


async def test_a_clean_first_post_skips_the_duplicate_look_up() -> None:
    evaluator, kube = world()
    c = ctx(evaluator, kube)
    await reconcile_evaljob(evaljob(), c)
    assert c.attempt is not None
    assert c.attempt.clean
    job_id = c.attempt.job_id
    assert job_id is not None
    evaluator.jobs[job_id]["status"] = "completed"
    evaluator.results[job_id] = RESULTS
    evaluator.calls.clear()
    done = await reconcile_evaljob(evaljob(status={"jobId": job_id, "phase": "Running"}), c)
    assert done.status.phase is EvalJobPhase.SUCCEEDED
    assert "find_jobs" not in evaluator.names()


async def test_duplicate_jobs_are_cancelled_and_deleted_before_finishing() -> None:
    evaluator, kube = world()
    kept = submitted(evaluator, "completed")
    late = submitted(evaluator, "running")  # a timed-out POST that NeMo processed late
    evaluator.results[kept] = RESULTS
    ej = evaljob(status={"jobId": kept, "phase": "Running"})
    first = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert "cancel_job" in evaluator.names()
    assert first.status.phase is EvalJobPhase.RUNNING
    assert conditions(first.status)["Reconciling"] == ("True", "RemovingDuplicates")
    evaluator.jobs[late]["status"] = "cancelled"
    done = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert done.status.phase is EvalJobPhase.SUCCEEDED
    assert set(evaluator.jobs) == {kept}


async def test_kubernetes_errors_become_a_condition_not_a_crash() -> None:
    from nemo_evaluator_operator.errors import KubernetesError

    evaluator, kube = world()

    async def broken(*_: object) -> None:
        raise KubernetesError("patch EvalJob status: HTTP 503 unavailable", 503)

    kube.patch_evaljob_metadata = broken  # type: ignore[method-assign]
    result = await reconcile_evaljob(evaljob(), ctx(evaluator, kube))
    assert evaluator.calls == []  # the marker could not be written, so nothing was posted
    assert result.retry_after is not None
    assert conditions(result.status)["Reconciling"] == ("True", "KubernetesAPIError")

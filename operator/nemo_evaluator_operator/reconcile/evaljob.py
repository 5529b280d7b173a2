"""One level-based reconcile step for an EvalJob: submit, observe, cancel, finish.

Each call looks at the EvalJob as it is now and at NeMo, and returns the next status. It is
safe to run again at any point, including after a crash halfway through.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from ..constants import CUSTOM_FIELD_EVALJOB_UID, Cond, Reason
from ..errors import KubernetesError
from ..evaluator.errors import ConflictError, EvaluatorError, NotFoundError
from ..evaluator.models import EvaluationJob, JobStatus
from ..models import EvalJob, EvalJobPhase, EvalJobStatus
from .cleanup import TERMINAL_STATES, remove_duplicates
from .conditions import now_iso
from .evaljob_status import (
    EventSpec,
    EventType,
    Transition,
    active_conditions,
    phase_for_state,
    terminal_conditions,
    waiting_conditions,
    with_observation,
)
from .failures import Failure, FailureKind, classify, redact
from .finishing import finish_completed
from .ports import EvaluatorPort, KubePort
from .submission import (
    Dependencies,
    Missing,
    build_job_body,
    pick_adopted,
    resolve_dependencies,
    spec_problem,
)

__all__ = [
    "EvalJobContext",
    "acknowledge_generation",
    "deadline_exceeded",
    "reconcile_evaljob",
]


@dataclass
class EvalJobContext:
    """Ports and knobs for one reconcile step."""

    evaluator: EvaluatorPort
    kube: KubePort
    grace_seconds: float
    now: datetime
    resubmit_after: float = 60.0  # after an ambiguous POST, how long to look before posting again
    known_job_id: str | None = None  # set in-process right after a POST, before the watch echoes it
    # True when this process recorded the job straight from the answer to the first POST: then
    # no other POST can exist and the duplicate look-up at the end can be skipped.
    clean_submission: bool = False

    @property
    def stamp(self) -> str:
        return now_iso(self.now)


async def reconcile_evaljob(ej: EvalJob, ctx: EvalJobContext) -> Transition:
    """Decide and act for one EvalJob; never raises for NeMo errors, reports them instead."""
    status = ej.status.model_copy(deep=True)
    if status.phase is not None and status.phase.is_terminal:
        return Transition(status)
    job_id = status.job_id or ctx.known_job_id
    try:
        if job_id is None:
            return await _before_submission(ej, status, ctx)
        status.job_id = job_id
        return await _observe(ej, status, job_id, ctx)
    except KubernetesError as err:
        kind = FailureKind.TRANSIENT if err.transient else FailureKind.OTHER
        failure = Failure(kind, Reason.KUBERNETES_ERROR, f"Kubernetes API error: {err.message}")
        return _transient(ej, status, failure, ctx)


def acknowledge_generation(ej: EvalJob) -> EvalJobStatus:
    """The same status, marked as having seen the current generation (nothing else changes)."""
    status = ej.status.model_copy(deep=True)
    generation = ej.metadata.generation
    status.observed_generation = generation
    status.conditions = [
        c.model_copy(update={"observed_generation": generation}) for c in status.conditions
    ]
    return status


def deadline_exceeded(ej: EvalJob, now: datetime) -> bool:
    """activeDeadlineSeconds counts from creation, so waiting for a Benchmark counts too."""
    limit = ej.spec.active_deadline_seconds
    return limit is not None and _age_seconds(ej, now) > limit


def _age_seconds(ej: EvalJob, now: datetime) -> float:
    created = ej.metadata.creation_timestamp
    return _seconds_since(created, now) if created else 0.0


async def _before_submission(ej: EvalJob, status: EvalJobStatus, ctx: EvalJobContext) -> Transition:
    if ej.spec.cancel and status.submission_started_at is None:
        message = "Cancelled before submission"
        return _finished(ej, status, EvalJobPhase.CANCELLED, Reason.CANCELLED, message, ctx)
    if deadline_exceeded(ej, ctx.now) and status.submission_started_at is None:
        message = (
            f"activeDeadlineSeconds ({ej.spec.active_deadline_seconds}) passed before submission"
        )
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.DEADLINE_EXCEEDED, message, ctx)
    problem = spec_problem(ej)
    if problem is not None:
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.INVALID_SPEC, problem, ctx)
    deps = await resolve_dependencies(ej, ctx.kube)
    if isinstance(deps, Missing):
        stalled = _age_seconds(ej, ctx.now) > ctx.grace_seconds
        return Transition(
            waiting_conditions(ej, status, deps.reason, deps.message, stalled, ctx.stamp)
        )
    status.config_name = deps.config_ref
    try:
        return await _submit(ej, status, deps, ctx)
    except EvaluatorError as err:
        return _submit_failed(ej, status, deps, err, ctx)


async def _submit(
    ej: EvalJob, status: EvalJobStatus, deps: Dependencies, ctx: EvalJobContext
) -> Transition:
    """Adopt a job an interrupted attempt created, else mark, POST and record the id at once."""
    meta = ej.metadata
    if status.submission_started_at is not None:
        found = await ctx.evaluator.find_jobs(CUSTOM_FIELD_EVALJOB_UID, meta.uid)
        adopted = pick_adopted(found, meta.uid)
        if adopted is not None:
            return _recorded(ej, status, adopted, Reason.ADOPTED, ctx)
        if _seconds_since(status.submission_started_at, ctx.now) < ctx.resubmit_after:
            return _awaiting_earlier_attempt(ej, status, ctx)
    first_attempt = status.submission_started_at is None
    status.submission_started_at = ctx.stamp
    await ctx.kube.patch_evaljob_status(
        meta.namespace, meta.name, {"submissionStartedAt": status.submission_started_at}
    )
    job = await ctx.evaluator.create_job(build_job_body(ej, deps))
    ctx.known_job_id = job.id
    ctx.clean_submission = first_attempt
    await ctx.kube.patch_evaljob_status(
        meta.namespace,
        meta.name,
        {"jobId": job.id, "submittedAt": ctx.stamp, "configName": deps.config_ref},
    )
    return _recorded(ej, status, job, Reason.SUBMITTED, ctx)


def _seconds_since(stamp: str, now: datetime) -> float:
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (now - then.astimezone(UTC)).total_seconds()


def _awaiting_earlier_attempt(
    ej: EvalJob, status: EvalJobStatus, ctx: EvalJobContext
) -> Transition:
    """An earlier POST got no clear answer and its job is not visible yet: NeMo may still be
    processing it, so posting again now risks a second job. Look again until the quiet period
    has passed."""
    message = (
        f"Waiting up to {ctx.resubmit_after:.0f}s for an earlier submission attempt to appear "
        "in NeMo before posting again"
    )
    status.phase = EvalJobPhase.PENDING
    status.message = message
    return Transition(active_conditions(ej, status, Reason.SUBMITTING, message, ctx.stamp))


def _recorded(
    ej: EvalJob, status: EvalJobStatus, job: EvaluationJob, reason: str, ctx: EvalJobContext
) -> Transition:
    status.job_id = job.id
    status.submitted_at = status.submitted_at or ctx.stamp
    status.phase = EvalJobPhase.SUBMITTED
    message = f"NeMo job {job.id} {'adopted' if reason == Reason.ADOPTED else 'submitted'}"
    status.message = message
    status = active_conditions(ej, status, reason, message, ctx.stamp)
    return Transition(status, [EventSpec("Normal", Reason.SUBMITTED, message)])


def _submit_failed(
    ej: EvalJob,
    status: EvalJobStatus,
    deps: Dependencies,
    err: EvaluatorError,
    ctx: EvalJobContext,
) -> Transition:
    failure = _redacted(classify(err, "the evaluation job"), deps)
    if failure.kind is FailureKind.REJECTED:
        return _finished(
            ej, status, EvalJobPhase.FAILED, Reason.SUBMISSION_REJECTED, failure.message, ctx
        )
    if isinstance(err, NotFoundError):  # the Benchmark's config vanished: wait for it to return
        failure = Failure(FailureKind.OTHER, Reason.BENCHMARK_NOT_READY, failure.message)
    events = _warn_once(status, failure)
    status.phase = EvalJobPhase.PENDING
    status.message = failure.message
    status = active_conditions(ej, status, failure.reason, failure.message, ctx.stamp)
    return Transition(status, events, retry_after=0.0)


def _redacted(failure: Failure, deps: Dependencies) -> Failure:
    secrets = [deps.api_key] if deps.api_key else []
    return Failure(failure.kind, failure.reason, redact(failure.message, secrets))


async def _observe(
    ej: EvalJob, status: EvalJobStatus, job_id: str, ctx: EvalJobContext
) -> Transition:
    try:
        job = await ctx.evaluator.get_job(job_id)
    except NotFoundError:
        message = f"NeMo job {job_id} no longer exists in NeMo Evaluator"
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.JOB_NOT_FOUND, message, ctx)
    except EvaluatorError as err:
        return _transient(ej, status, classify(err, f"read job {job_id}"), ctx)
    status = with_observation(status, job, ctx.stamp)
    try:
        return await _advance(ej, status, job, ctx)
    except EvaluatorError as err:
        return _transient(ej, status, classify(err, f"advance job {job_id}"), ctx)


async def _advance(
    ej: EvalJob, status: EvalJobStatus, job: EvaluationJob, ctx: EvalJobContext
) -> Transition:
    state = job.state
    phase = phase_for_state(state)
    if (
        state in TERMINAL_STATES
        and not ctx.clean_submission
        and not await remove_duplicates(ctx.evaluator, ej.metadata.uid, job.id)
    ):
        message = f"Removing duplicate NeMo jobs of this EvalJob (keeping {job.id})"
        status.message = message
        status = active_conditions(ej, status, Reason.REMOVING_DUPLICATES, message, ctx.stamp)
        return Transition(status, retry_after=0.0)
    if state is JobStatus.COMPLETED:
        return await finish_completed(ej, status, job, ctx.evaluator, ctx.kube, ctx.stamp)
    if state is JobStatus.FAILED:
        message = job.status_details.message or "NeMo reported the job as failed"
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.JOB_FAILED, message, ctx)
    if state is JobStatus.CANCELLED:
        return _cancelled(ej, status, ctx)
    if phase is None:
        message = f"NeMo reported an unknown job status {job.status!r}; still watching it"
        status.message = message
        return Transition(
            active_conditions(ej, status, Reason.UNKNOWN_JOB_STATUS, message, ctx.stamp)
        )
    return await _in_flight(ej, status, job, phase, ctx)


async def _in_flight(
    ej: EvalJob,
    status: EvalJobStatus,
    job: EvaluationJob,
    phase: EvalJobPhase,
    ctx: EvalJobContext,
) -> Transition:
    events: list[EventSpec] = []
    wants_cancel = ej.spec.cancel or deadline_exceeded(ej, ctx.now)
    reason = Reason.RUNNING if phase is EvalJobPhase.RUNNING else Reason.PENDING
    if wants_cancel and job.state is not JobStatus.CANCELLING:
        # A 409 means it reached a terminal state meanwhile; the next poll sees which.
        with contextlib.suppress(ConflictError):
            await ctx.evaluator.cancel_job(job.id)
        why = "spec.cancel is true" if ej.spec.cancel else "activeDeadlineSeconds passed"
        events.append(
            EventSpec("Normal", Reason.CANCELLING, f"Cancelling NeMo job {job.id}: {why}")
        )
    if wants_cancel:
        reason = Reason.CANCELLING if ej.spec.cancel else Reason.DEADLINE_EXCEEDED
        status.message = f"Cancelling NeMo job {job.id}"
    if phase is EvalJobPhase.RUNNING and status.phase is not EvalJobPhase.RUNNING:
        events.append(EventSpec("Normal", Reason.RUNNING, f"NeMo job {job.id} is running"))
    status.phase = phase
    message = status.message or f"NeMo job {job.id} is {job.status}"
    return Transition(active_conditions(ej, status, reason, message, ctx.stamp), events)


def _cancelled(ej: EvalJob, status: EvalJobStatus, ctx: EvalJobContext) -> Transition:
    if not ej.spec.cancel and deadline_exceeded(ej, ctx.now):
        message = f"activeDeadlineSeconds ({ej.spec.active_deadline_seconds}) passed; job cancelled"
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.DEADLINE_EXCEEDED, message, ctx)
    message = f"NeMo job {status.job_id} was cancelled"
    return _finished(ej, status, EvalJobPhase.CANCELLED, Reason.CANCELLED, message, ctx)


def _finished(
    ej: EvalJob,
    status: EvalJobStatus,
    phase: EvalJobPhase,
    reason: str,
    message: str,
    ctx: EvalJobContext,
) -> Transition:
    status = terminal_conditions(ej, status, phase, reason, message, ctx.stamp)
    kind: EventType = (
        "Normal" if phase in (EvalJobPhase.SUCCEEDED, EvalJobPhase.CANCELLED) else "Warning"
    )
    return Transition(status, [EventSpec(kind, phase.value, message)])


def _transient(
    ej: EvalJob, status: EvalJobStatus, failure: Failure, ctx: EvalJobContext
) -> Transition:
    events = _warn_once(status, failure)
    status = active_conditions(ej, status, failure.reason, failure.message, ctx.stamp)
    return Transition(status, events, retry_after=0.0)


def _warn_once(status: EvalJobStatus, failure: Failure) -> list[EventSpec]:
    """A Warning event when a problem starts, not on every retry of the same problem."""
    for condition in status.conditions:
        if condition.type == Cond.RECONCILING and condition.reason == failure.reason:
            return []
    return [EventSpec("Warning", failure.reason, failure.message)]

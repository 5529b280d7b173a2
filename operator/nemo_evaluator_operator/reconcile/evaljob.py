"""One level-based reconcile step for an EvalJob: submit, observe, cancel, finish.

Each call looks at the EvalJob as it is now and at the evaluator, and returns the next status.
It is safe to run again at any point, including after a crash halfway through.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime

from ..constants import Cond, Reason
from ..errors import KubernetesError
from ..evaluator.errors import ConflictError, EvaluatorAPIError, EvaluatorError, NotFoundError
from ..evaluator.port import EvaluatorPort, JobObservation, JobRef, JobState
from ..models import EvalJob, EvalJobPhase, EvalJobStatus
from .cleanup import job_namespace, remove_duplicates
from .conditions import now_iso, seconds_since
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
from .exactly_once import Attempt, marker_of, submit_once
from .failures import Failure, FailureKind, classify, redact
from .finishing import finish_completed
from .ports import ConfigMapTakenError, KubePort
from .submission import (
    Dependencies,
    Missing,
    model_of,
    owner_of,
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
    """Ports, knobs and what the engine already knows, for one reconcile step."""

    evaluator: EvaluatorPort
    kube: KubePort
    grace_seconds: float
    now: datetime
    default_namespace: str = "default"
    resubmit_after: float = 60.0  # v1: quiet period after an ambiguous POST, from its end
    instance: str = ""  # this operator process, named in the submission marker
    attempt: Attempt | None = None  # this process's memory of its latest attempt (in and out)
    batched: bool = False  # the poller already looked at the job: the three fields below say how
    observed: JobObservation | None = None  # its batched look at the job
    observe_error: EvaluatorError | None = None  # why the batch could not read the job
    missing_polls: int = 0  # consecutive polls that found no such job
    deleting: bool = False

    @property
    def stamp(self) -> str:
        return now_iso(self.now)


async def reconcile_evaljob(ej: EvalJob, ctx: EvalJobContext) -> Transition:
    """Decide and act for one EvalJob; never raises for evaluator errors, reports them instead."""
    status = ej.status.model_copy(deep=True)
    if status.phase is not None and status.phase.is_terminal:
        return Transition(status)
    status.model = status.model or model_of(ej.spec.target)
    job_id = status.job_id or (ctx.attempt.job_id if ctx.attempt else None)
    try:
        if job_id is None:
            return await _before_submission(ej, status, ctx)
        status.job_id = job_id
        ref = JobRef(job_namespace(ej, ctx.default_namespace), job_id)
        return await _observe(ej, status, ref, ctx)
    except ConfigMapTakenError as err:
        message = (
            f"{err.message}; the operator never overwrites it: delete or rename it and the "
            "results are written at the next retry (they stay in NeMo meanwhile)"
        )
        failure = Failure(FailureKind.STALLED, Reason.RESULTS_CONFLICT, message)
        events = _warn_once(status, failure)
        status = active_conditions(ej, status, failure.reason, message, ctx.stamp, stalled=True)
        return Transition(status, events, retry_after=0.0)
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
    return seconds_since(created, now) if created else 0.0


async def _before_submission(ej: EvalJob, status: EvalJobStatus, ctx: EvalJobContext) -> Transition:
    unmarked = marker_of(ej) is None and ctx.attempt is None
    if ej.spec.cancel and unmarked:
        message = "Cancelled before submission"
        return _finished(ej, status, EvalJobPhase.CANCELLED, Reason.CANCELLED, message, ctx)
    if deadline_exceeded(ej, ctx.now) and unmarked:
        return _finished(
            ej, status, EvalJobPhase.FAILED, Reason.DEADLINE_EXCEEDED, _too_late(ej), ctx
        )
    problem = spec_problem(ej, ctx.evaluator)
    if problem is not None:
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.INVALID_SPEC, problem, ctx)
    deps = await resolve_dependencies(ej, ctx.kube, ctx.default_namespace)
    if isinstance(deps, Missing):
        # A missing object may appear (grace period); an evaluator that speaks neither API, or
        # the other one, will not fix itself by waiting.
        stalled = deps.evaluator_level or _age_seconds(ej, ctx.now) > ctx.grace_seconds
        return Transition(
            waiting_conditions(ej, status, deps.reason, deps.message, stalled, ctx.stamp)
        )
    benchmark = deps.benchmark
    status.evaluator_api = benchmark.api
    status.evaluator_namespace = benchmark.namespace
    status.config_name = benchmark.ref if benchmark.api == "v1" else None
    status.benchmark_generation = deps.generation
    status.config_hash = deps.config_hash
    stop = ej.spec.cancel or deadline_exceeded(ej, ctx.now) or ctx.deleting
    outcome, ctx.attempt = await submit_once(
        ej,
        deps,
        ctx.evaluator,
        ctx.kube,
        now=ctx.now,
        attempt=ctx.attempt,
        instance=ctx.instance,
        quiet_seconds=ctx.resubmit_after,
        stop=stop,
    )
    if outcome.job is not None:
        return await _recorded(ej, status, outcome.job, outcome.reason, ctx)
    if outcome.error is not None:
        return _submit_failed(ej, status, deps, outcome.error, ctx)
    if outcome.stopped:
        if ctx.deleting:
            return Transition(status)  # deletion cleans up; nothing was posted
        if ej.spec.cancel:
            message = "Cancelled before a job was created"
            return _finished(ej, status, EvalJobPhase.CANCELLED, Reason.CANCELLED, message, ctx)
        return _finished(
            ej, status, EvalJobPhase.FAILED, Reason.DEADLINE_EXCEEDED, _too_late(ej), ctx
        )
    return _awaiting(ej, status, outcome.waiting or "Submitting", ctx)


def _too_late(ej: EvalJob) -> str:
    return f"activeDeadlineSeconds ({ej.spec.active_deadline_seconds}) passed before submission"


def _awaiting(ej: EvalJob, status: EvalJobStatus, message: str, ctx: EvalJobContext) -> Transition:
    """Nothing was posted this step (an earlier attempt may still appear): look again soon."""
    status.phase = EvalJobPhase.PENDING
    status.message = message
    return Transition(
        active_conditions(ej, status, Reason.SUBMITTING, message, ctx.stamp), retry_after=0.0
    )


async def _recorded(
    ej: EvalJob, status: EvalJobStatus, job: JobObservation, reason: str, ctx: EvalJobContext
) -> Transition:
    """The job id and the submission, in the status the engine writes as soon as this returns
    (nothing else happens in between, so a crash here is the same as one during the POST)."""
    status.job_id = job.ref.job_id
    status.evaluator_namespace = job.ref.namespace
    status.submitted_at = status.submitted_at or ctx.stamp
    marker = marker_of(ej) or (ctx.attempt.marker if ctx.attempt else None)
    if status.submission_started_at is None and marker is not None:
        status.submission_started_at = now_iso(marker.at)
    status.phase = EvalJobPhase.SUBMITTED
    message = f"NeMo job {job.ref} {'adopted' if reason == Reason.ADOPTED else 'submitted'}"
    status.message = message
    status = active_conditions(ej, status, reason, message, ctx.stamp)
    # Events are writes too: the ordinary path gets one, at the end (the job id is in the
    # status from here on). Adopting a job an earlier attempt left is worth telling.
    adopted = reason == Reason.ADOPTED
    events = [EventSpec("Normal", Reason.ADOPTED, message)] if adopted else []
    return Transition(status, events, submitted="adopted" if adopted else "created")


def _submit_failed(
    ej: EvalJob,
    status: EvalJobStatus,
    deps: Dependencies,
    err: EvaluatorError,
    ctx: EvalJobContext,
) -> Transition:
    failure = _redacted(classify(err, "the evaluation job", Reason.SUBMISSION_REJECTED), deps)
    if failure.kind is FailureKind.OTHER and _refused(err):
        # A 4xx that is not about the request's content (413, 405, ...): posting the same job
        # again will not help until someone changes something; keep trying, slowly.
        failure = Failure(FailureKind.STALLED, Reason.SUBMISSION_REFUSED, failure.message)
    if failure.kind is FailureKind.REJECTED:
        return _finished(ej, status, EvalJobPhase.FAILED, failure.reason, failure.message, ctx)
    if isinstance(err, NotFoundError):  # the Benchmark's config vanished: wait for it to return
        failure = Failure(FailureKind.OTHER, Reason.BENCHMARK_NOT_READY, failure.message)
    events = _warn_once(status, failure)
    status.phase = EvalJobPhase.PENDING
    status.message = failure.message
    if failure.kind is FailureKind.STALLED:
        stalled = waiting_conditions(ej, status, failure.reason, failure.message, True, ctx.stamp)
        return Transition(stalled, events, retry_after=failure.retry_after or 0.0)
    status = active_conditions(ej, status, failure.reason, failure.message, ctx.stamp)
    return Transition(status, events, retry_after=failure.retry_after or 0.0)


def _refused(err: EvaluatorError) -> bool:
    status = err.status_code if isinstance(err, EvaluatorAPIError) else 0
    return 400 <= status < 500 and status not in (404, 408, 409, 429)


def _redacted(failure: Failure, deps: Dependencies) -> Failure:
    secrets = [deps.api_key] if deps.api_key else []
    return replace(failure, message=redact(failure.message, secrets))  # keeps Retry-After


async def _observe(
    ej: EvalJob, status: EvalJobStatus, ref: JobRef, ctx: EvalJobContext
) -> Transition:
    job = ctx.observed
    if job is None and ctx.observe_error is not None:
        return _transient(ej, status, classify(ctx.observe_error, f"read job {ref}"), ctx)
    if job is None and not ctx.batched:
        try:
            job = await ctx.evaluator.observe(ref)
            ctx.missing_polls = 0
        except NotFoundError:
            ctx.missing_polls += 1
        except EvaluatorError as err:
            return _transient(ej, status, classify(err, f"read job {ref}"), ctx)
    if job is None:
        return _missing(ej, status, ref, ctx)
    status = with_observation(status, job, ctx.stamp)
    try:
        return await _advance(ej, status, job, ctx)
    except EvaluatorError as err:
        return _transient(ej, status, classify(err, f"advance job {ref}"), ctx)


def _missing(ej: EvalJob, status: EvalJobStatus, ref: JobRef, ctx: EvalJobContext) -> Transition:
    """A known job the evaluator says does not exist: failed only once a second poll agrees
    (a gateway answering 404 during a NeMo rollout must not fail the EvalJob)."""
    if ctx.missing_polls >= 2:
        message = f"NeMo job {ref} no longer exists in the evaluator"
        return _finished(ej, status, EvalJobPhase.FAILED, Reason.JOB_NOT_FOUND, message, ctx)
    message = f"The evaluator says NeMo job {ref} does not exist; checking again"
    failure = Failure(FailureKind.TRANSIENT, Reason.JOB_MISSING, message)
    return _transient(ej, status, failure, ctx)


async def _advance(
    ej: EvalJob, status: EvalJobStatus, job: JobObservation, ctx: EvalJobContext
) -> Transition:
    state = job.state
    phase = phase_for_state(state)
    if state.is_terminal:
        extras = await _duplicates(ej, job, ctx)
        if extras:
            return _removing_duplicates(ej, status, job, extras, ctx)
    if state is JobState.SUCCEEDED:
        done = await finish_completed(ej, status, job, ctx.evaluator, ctx.kube, ctx.stamp)
        return await _released(ej, done, ctx)
    if state is JobState.FAILED:
        message = job.message or "NeMo reported the job as failed"
        failed = _finished(ej, status, EvalJobPhase.FAILED, Reason.JOB_FAILED, message, ctx)
        return await _released(ej, failed, ctx)
    if state is JobState.CANCELLED:
        return await _released(ej, _cancelled(ej, status, ctx), ctx)
    if phase is None:
        message = f"NeMo reported an unknown job status {job.raw_state!r}; still watching it"
        status.message = message
        return Transition(
            active_conditions(ej, status, Reason.UNKNOWN_JOB_STATUS, message, ctx.stamp)
        )
    return await _in_flight(ej, status, job, phase, ctx)


async def _duplicates(ej: EvalJob, job: JobObservation, ctx: EvalJobContext) -> list[JobRef]:
    """Other jobs of this EvalJob still in NeMo (a lost v1 answer made them), being removed."""
    if (ctx.attempt is not None and ctx.attempt.clean) or ctx.evaluator.idempotent_submit:
        return []
    done, extras = await remove_duplicates(
        ctx.evaluator, job.ref.namespace, owner_of(ej), job.ref.job_id
    )
    return [] if done else extras


def _removing_duplicates(
    ej: EvalJob,
    status: EvalJobStatus,
    job: JobObservation,
    extras: list[JobRef],
    ctx: EvalJobContext,
) -> Transition:
    """Finish only once the duplicates are gone; say so once, with their ids, and count them."""
    ids = ", ".join(str(ref) for ref in extras)
    message = f"Removing duplicate NeMo jobs of this EvalJob (keeping {job.ref}): {ids}"
    first = not any(
        c.type == Cond.RECONCILING and c.reason == Reason.REMOVING_DUPLICATES
        for c in status.conditions
    )
    status.message = message
    status = active_conditions(ej, status, Reason.REMOVING_DUPLICATES, message, ctx.stamp)
    events = []
    if first:
        warning = f"NeMo created {len(extras)} duplicate job(s) for this EvalJob: {ids}"
        events.append(EventSpec("Warning", Reason.DUPLICATE_JOBS, warning))
    return Transition(status, events, retry_after=0.0, duplicates=len(extras) if first else 0)


async def _released(ej: EvalJob, transition: Transition, ctx: EvalJobContext) -> Transition:
    """Remove what the submission left besides the job (a Helix key secret) once it ended."""
    if ej.spec.api_key_secret_ref is None:
        return transition
    namespace = job_namespace(ej, ctx.default_namespace)
    try:
        await ctx.evaluator.release(namespace, owner_of(ej))
    except EvaluatorError as err:
        problem = classify(err, "remove the job's key secret").message
        message = f"Will retry on deletion: {problem}"
        transition.events.append(EventSpec("Warning", Reason.CLEANUP_PENDING, message))
    return transition


async def _in_flight(
    ej: EvalJob,
    status: EvalJobStatus,
    job: JobObservation,
    phase: EvalJobPhase,
    ctx: EvalJobContext,
) -> Transition:
    events: list[EventSpec] = []
    wants_cancel = ej.spec.cancel or deadline_exceeded(ej, ctx.now)
    # Conditions say what phase the job is in, in words that change only with the phase:
    # NeMo's own moving message goes to status.message, whose writes are throttled.
    running = phase is EvalJobPhase.RUNNING
    reason = Reason.RUNNING if running else Reason.SUBMITTED
    text = f"NeMo job {job.ref} is running" if running else f"NeMo job {job.ref} submitted"
    if wants_cancel and job.state is not JobState.CANCELLING:
        # A 409 means it reached a terminal state meanwhile; the next poll sees which.
        with contextlib.suppress(ConflictError):
            await ctx.evaluator.cancel(job.ref)
        why = "spec.cancel is true" if ej.spec.cancel else "activeDeadlineSeconds passed"
        events.append(
            EventSpec("Normal", Reason.CANCELLING, f"Cancelling NeMo job {job.ref}: {why}")
        )
    if wants_cancel:
        reason = Reason.CANCELLING if ej.spec.cancel else Reason.DEADLINE_EXCEEDED
        text = status.message = f"Cancelling NeMo job {job.ref}"
    elif not job.message:
        status.message = text
    status.phase = phase  # no event for Running: the phase column says it
    return Transition(active_conditions(ej, status, reason, text, ctx.stamp), events)


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
    return Transition(status, events, retry_after=failure.retry_after or 0.0)


def _warn_once(status: EvalJobStatus, failure: Failure) -> list[EventSpec]:
    """A Warning event when a problem starts, not on every retry of the same problem."""
    for condition in status.conditions:
        if condition.type == Cond.RECONCILING and condition.reason == failure.reason:
            return []
    return [EventSpec("Warning", failure.reason, failure.message)]

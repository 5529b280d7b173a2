"""EvalJob status transitions: phase, conditions and events for each situation, all pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..constants import Cond
from ..evaluator.port import JobObservation, JobState
from ..models import EvalJob, EvalJobPhase, EvalJobStatus
from .bounds import cap
from .conditions import CondSpec, apply_conditions

__all__ = [
    "EventSpec",
    "EventType",
    "Transition",
    "active_conditions",
    "phase_for_state",
    "terminal_conditions",
    "waiting_conditions",
    "with_observation",
]

EventType = Literal["Normal", "Warning"]
MAX_EVENT_MESSAGE = 1024


@dataclass(frozen=True)
class EventSpec:
    """A Kubernetes Event to post about an object; the message is cut to what Events hold."""

    type: EventType
    reason: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", cap(self.message, MAX_EVENT_MESSAGE))


@dataclass
class Transition:
    """The next status and what to tell people about it."""

    status: EvalJobStatus
    events: list[EventSpec] = field(default_factory=list)
    retry_after: float | None = None  # set for transient failures: back off, then retry
    duplicates: int = 0  # duplicate NeMo jobs first found in this step (v1 only)
    submitted: str | None = None  # "created" or "adopted": this step recorded the job id


_PHASES: dict[JobState, EvalJobPhase] = {
    JobState.QUEUED: EvalJobPhase.SUBMITTED,
    JobState.RUNNING: EvalJobPhase.RUNNING,
    JobState.CANCELLING: EvalJobPhase.RUNNING,
    JobState.SUCCEEDED: EvalJobPhase.SUCCEEDED,
    JobState.FAILED: EvalJobPhase.FAILED,
    JobState.CANCELLED: EvalJobPhase.CANCELLED,
}


def phase_for_state(state: JobState) -> EvalJobPhase | None:
    """Job state → EvalJob phase; None for states we do not understand."""
    return _PHASES.get(state)


def with_observation(status: EvalJobStatus, job: JobObservation, now: str) -> EvalJobStatus:
    """Copy the evaluator's progress figures into the status (only what it reported)."""
    updated = status.model_copy(deep=True)
    updated.progress = job.progress
    updated.samples_processed = job.samples_processed
    updated.task_status = dict(job.task_status) or None
    if job.message:
        updated.message = job.message
    if job.state is JobState.RUNNING and updated.started_at is None:
        updated.started_at = now
    return updated


def _base(ej: EvalJob, status: EvalJobStatus) -> EvalJobStatus:
    status.observed_generation = ej.metadata.generation
    return status


def waiting_conditions(
    ej: EvalJob, status: EvalJobStatus, reason: str, message: str, stalled: bool, now: str
) -> EvalJobStatus:
    """Not submitted yet because something is missing; Stalled once the grace period is over."""
    status = _base(ej, status)
    status.phase = EvalJobPhase.PENDING
    status.message = message
    specs = [
        CondSpec(Cond.SUCCEEDED, "Unknown", reason, message),
        CondSpec(Cond.READY, "False", reason, message),
        CondSpec(Cond.RECONCILING, "False" if stalled else "True", reason, message),
        CondSpec(Cond.STALLED, "True" if stalled else "False", reason, message if stalled else ""),
    ]
    status.conditions = apply_conditions(status.conditions, specs, ej.metadata.generation, now)
    return status


def active_conditions(
    ej: EvalJob,
    status: EvalJobStatus,
    reason: str,
    message: str,
    now: str,
    stalled: bool = False,
) -> EvalJobStatus:
    """Submitted or running (or retrying after a transient error): Reconciling=True; or, with
    `stalled`, blocked until someone acts (the phase stays what it was)."""
    status = _base(ej, status)
    specs = [
        CondSpec(Cond.SUCCEEDED, "Unknown", reason, message),
        CondSpec(Cond.READY, "False", reason, message),
        CondSpec(Cond.RECONCILING, "False" if stalled else "True", reason, message),
        CondSpec(Cond.STALLED, "True" if stalled else "False", reason, message if stalled else ""),
    ]
    status.conditions = apply_conditions(status.conditions, specs, ej.metadata.generation, now)
    return status


def terminal_conditions(
    ej: EvalJob,
    status: EvalJobStatus,
    phase: EvalJobPhase,
    reason: str,
    message: str,
    now: str,
) -> EvalJobStatus:
    """Finished: Succeeded True/False, Ready only on success, Stalled on any other end."""
    status = _base(ej, status)
    status.phase = phase
    status.message = message
    status.completed_at = status.completed_at or now
    ok = phase is EvalJobPhase.SUCCEEDED
    specs = [
        CondSpec(Cond.SUCCEEDED, "True" if ok else "False", reason, message),
        CondSpec(Cond.READY, "True" if ok else "False", reason, message),
        CondSpec(Cond.RECONCILING, "False", reason),
        CondSpec(Cond.STALLED, "False" if ok else "True", reason, "" if ok else message),
    ]
    status.conditions = apply_conditions(status.conditions, specs, ej.metadata.generation, now)
    return status

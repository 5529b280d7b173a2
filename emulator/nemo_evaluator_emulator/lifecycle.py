"""A job's state, computed from its timeline whenever it is read.

Nothing runs in the background: a job stores when it was created, how long each phase lasts,
and the explicit interventions (cancel, forced end), and `observe()` derives the status at any
instant of the emulator clock. Thousands of jobs therefore cost nothing while nobody looks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from .settings import PhaseSeconds

__all__ = ["TERMINAL", "Observation", "Timeline", "observe", "status_details", "transitions"]

TERMINAL = frozenset({"completed", "failed", "cancelled"})

_MESSAGES = {
    "created": None,
    "pending": "Job is pending",
    "running": "Job is running",
    "completed": "Job completed successfully",
    "cancelling": "Job is being cancelled",
    "cancelled": "Job was cancelled",
}


class Timeline(BaseModel):
    """Everything needed to know a job's state at any time (persisted with the job)."""

    created_ts: float
    phases: PhaseSeconds
    fail_message: str | None = None
    fail_phase: Literal["pending", "running"] = "running"
    cancel_ts: float | None = None
    forced_status: Literal["completed", "failed", "cancelled"] | None = None
    forced_ts: float | None = None
    forced_message: str | None = None


@dataclass(frozen=True)
class Observation:
    """The state at one instant: status, when it began, and how far `running` got (0..1)."""

    status: str
    since: float
    fraction: float
    message: str | None


def _natural(tl: Timeline, t: float) -> Observation:
    """The state with no cancel or forced end: the phases play out, or fail on schedule."""
    ph = tl.phases
    t_pending = tl.created_ts + ph.created
    t_running = t_pending + ph.pending
    t_end = t_running + ph.running
    if tl.fail_message is not None:
        fail_at = t_running if tl.fail_phase == "pending" else t_running + ph.running / 2
        if t >= fail_at:
            frac = 0.0 if tl.fail_phase == "pending" else 0.5
            return Observation("failed", fail_at, frac, tl.fail_message)
    if t < t_pending:
        return Observation("created", tl.created_ts, 0.0, _MESSAGES["created"])
    if t < t_running:
        return Observation("pending", t_pending, 0.0, _MESSAGES["pending"])
    if t < t_end:
        frac = (t - t_running) / ph.running if ph.running else 1.0
        return Observation("running", t_running, frac, _MESSAGES["running"])
    return Observation("completed", t_end, 1.0, _MESSAGES["completed"])


def _with_cancel(tl: Timeline, t: float) -> Observation:
    if tl.cancel_ts is None or t < tl.cancel_ts:
        return _natural(tl, t)
    before = _natural(tl, tl.cancel_ts)
    done_at = tl.cancel_ts + tl.phases.cancelling
    if t < done_at:
        return Observation("cancelling", tl.cancel_ts, before.fraction, _MESSAGES["cancelling"])
    return Observation("cancelled", done_at, before.fraction, _MESSAGES["cancelled"])


def observe(tl: Timeline, t: float) -> Observation:
    """The job's state at emulator time `t`."""
    if tl.forced_status is None or tl.forced_ts is None or t < tl.forced_ts:
        return _with_cancel(tl, t)
    before = _with_cancel(tl, tl.forced_ts)
    frac = 1.0 if tl.forced_status == "completed" else before.fraction
    message = tl.forced_message or _MESSAGES.get(tl.forced_status)
    return Observation(tl.forced_status, tl.forced_ts, frac, message)


def _task_states(obs: Observation, tasks: list[str]) -> dict[str, str]:
    """Tasks run one after another; the one in progress is running (or failed)."""
    if obs.status == "created" or not tasks:
        return {}
    if obs.status == "pending":
        return dict.fromkeys(tasks, "pending")
    if obs.status == "completed":
        return dict.fromkeys(tasks, "completed")
    current = min(int(obs.fraction * len(tasks)), len(tasks) - 1)
    active = "failed" if obs.status == "failed" else "running"
    return {
        name: "completed" if i < current else active if i == current else "pending"
        for i, name in enumerate(tasks)
    }


def status_details(
    obs: Observation, tasks: list[str], samples_total: int, limit_samples: int | None
) -> dict[str, Any]:
    """`status_details` as NeMo reports it; `progress` only when `limit_samples` is set."""
    processed = (
        samples_total if obs.status == "completed" else math.floor(samples_total * obs.fraction)
    )
    progress = None
    if limit_samples:
        progress = round(min(100.0, 100.0 * processed / limit_samples), 2)
    return {
        "message": obs.message,
        "progress": progress,
        "samples_processed": processed,
        "task_status": _task_states(obs, tasks),
    }


def transitions(tl: Timeline, t: float) -> list[Observation]:
    """Every state the job has been in up to `t`, in order (for the logs archive)."""
    ph = tl.phases
    t_pending = tl.created_ts + ph.created
    t_running = t_pending + ph.pending
    moments = [
        tl.created_ts,
        t_pending,
        t_running,
        t_running + ph.running / 2,
        t_running + ph.running,
    ]
    if tl.cancel_ts is not None:
        moments += [tl.cancel_ts, tl.cancel_ts + ph.cancelling]
    if tl.forced_ts is not None:
        moments.append(tl.forced_ts)
    seen: list[Observation] = []
    for moment in sorted(m for m in moments if m <= t):
        obs = observe(tl, moment)
        if not seen or seen[-1].status != obs.status:
            seen.append(obs)
    return seen

"""Every NeMo job state the operator knows, per API, mapped onto `JobState` in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .port import EvaluatorAPI, JobState

__all__ = ["ACTIVE_STATES", "STATES", "job_state"]

STATES: Final[Mapping[EvaluatorAPI, Mapping[str, JobState]]] = {
    "v1": {
        "created": JobState.QUEUED,
        "pending": JobState.QUEUED,
        "running": JobState.RUNNING,
        "cancelling": JobState.CANCELLING,
        "completed": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
    },
    "helix": {
        "created": JobState.QUEUED,
        "pending": JobState.QUEUED,
        "active": JobState.RUNNING,
        "paused": JobState.RUNNING,
        "pausing": JobState.RUNNING,
        "resuming": JobState.RUNNING,
        "cancelling": JobState.CANCELLING,
        "completed": JobState.SUCCEEDED,
        "error": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
    },
}

ACTIVE_STATES: Final[Mapping[EvaluatorAPI, tuple[str, ...]]] = {
    api: tuple(raw for raw, state in table.items() if not state.is_terminal)
    for api, table in STATES.items()
}
"""The raw states a job can still leave, per API (what polling lists ask for)."""


def job_state(api: EvaluatorAPI, raw: str | None) -> JobState:
    """The state for a raw status string; anything unrecognised is `UNKNOWN`."""
    if not raw:
        return JobState.UNKNOWN
    return STATES[api].get(raw.strip().lower(), JobState.UNKNOWN)

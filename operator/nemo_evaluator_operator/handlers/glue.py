"""Shared kopf glue: parse bodies, write status diffs, post events, compute backoff."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import kopf
from pydantic import BaseModel, ValidationError

from ..constants import Reason
from ..reconcile.evaljob_status import EventSpec

__all__ = [
    "backoff",
    "parse",
    "post_events",
    "retry_or_give_up",
    "status_dict",
    "write_status",
]

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: kopf.Body) -> M:
    """Validate the whole object; a malformed one is a permanent error, not a retry loop."""
    try:
        return model.model_validate(dict(body))
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise kopf.PermanentError(f"invalid {body.get('kind')}: {field}: {first['msg']}") from None


def status_dict(status: BaseModel) -> dict[str, Any]:
    """The status as the API stores it (camelCase, no nulls)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def write_status(patch: kopf.Patch, old: BaseModel, new: BaseModel) -> bool:
    """Patch only the status fields that changed; True if anything was written."""
    before, after = status_dict(old), status_dict(new)
    changed = False
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            patch.status[key] = after.get(key)
            changed = True
    return changed


def post_events(body: kopf.Body, events: Iterable[EventSpec]) -> None:
    """Post each event on the object (kopf attaches the involvedObject)."""
    for event in events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def retry_or_give_up(
    body: kopf.Body, retry: int, max_attempts: int, what: str, problem: str, logger: kopf.Logger
) -> None:
    """Deletion cleanup failed: retry later, or after `max_attempts` release the object.

    Never blocking deletion forever matters more than the NeMo object left behind: a stuck
    finalizer also blocks namespace deletion. The Warning event names what was left.
    """
    if retry + 1 < max_attempts:
        raise kopf.TemporaryError(problem, delay=backoff(retry, 1.0, 30.0))
    message = f"Gave up cleaning up {what} after {retry + 1} attempts: {problem}"
    kopf.warn(body, reason=Reason.CLEANUP_ABANDONED, message=message)
    logger.warning(message)


def backoff(retry: int, base: float, ceiling: float) -> float:
    """Exponential backoff from `base`, capped, for retries after transient failures."""
    return float(min(ceiling, base * (2 ** min(retry, 16))))

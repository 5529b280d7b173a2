"""metav1.Condition bookkeeping that never rewrites a condition that did not change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ..models import Condition

__all__ = ["CondSpec", "apply_conditions", "now_iso", "seconds_since", "set_condition"]

Status = Literal["True", "False", "Unknown"]
MAX_MESSAGE = 32768


@dataclass(frozen=True)
class CondSpec:
    """The desired state of one condition, without bookkeeping fields."""

    type: str
    status: Status
    reason: str
    message: str = ""


def now_iso(now: datetime | None = None) -> str:
    """RFC 3339 timestamp with second precision, as Kubernetes writes them."""
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_since(stamp: str, now: datetime) -> float:
    """Seconds from an RFC 3339 timestamp (as Kubernetes writes them) to `now`."""
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (now - then.astimezone(UTC)).total_seconds()


def set_condition(
    conditions: list[Condition], spec: CondSpec, generation: int, now: str
) -> list[Condition]:
    """Return a new list with `spec` applied.

    `lastTransitionTime` moves only when the status flips, so re-applying the same condition
    writes nothing new (an endless status-update loop is the classic bug this avoids).
    """
    result: list[Condition] = []
    found = False
    for existing in conditions:
        if existing.type != spec.type:
            result.append(existing)
            continue
        found = True
        moved = existing.status != spec.status
        result.append(_condition(spec, generation, now if moved else existing.last_transition_time))
    if not found:
        result.append(_condition(spec, generation, now))
    return result


def _condition(spec: CondSpec, generation: int, since: str) -> Condition:
    return Condition(
        type=spec.type,
        status=spec.status,
        reason=spec.reason,
        message=spec.message[:MAX_MESSAGE],
        last_transition_time=since,
        observed_generation=generation,
    )


def apply_conditions(
    conditions: list[Condition], specs: Iterable[CondSpec], generation: int, now: str
) -> list[Condition]:
    """Apply several condition specs in order."""
    result = list(conditions)
    for spec in specs:
        result = set_condition(result, spec, generation, now)
    return result

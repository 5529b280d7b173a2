"""What other EvalJobs' runs look like to a baseline gate or a leaderboard: their status only.

Both work from the engine's index (no API read, no NeMo call): everything they compare is
in each EvalJob's status (phase, config hash, scores and their standard errors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunRecord", "finite_numbers", "run_record"]


@dataclass(frozen=True)
class RunRecord:
    """One EvalJob as a finished (or unfinished) run."""

    uid: str
    namespace: str
    name: str
    benchmark: str
    labels: Mapping[str, str] = field(default_factory=dict)
    phase: str | None = None
    config_hash: str | None = None
    completed_at: str | None = None
    model: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    errors: Mapping[str, float] = field(default_factory=dict)


def run_record(
    uid: str,
    namespace: str,
    name: str,
    benchmark: str,
    labels: Mapping[str, str],
    status: Mapping[str, Any],
) -> RunRecord:
    """A RunRecord from an EvalJob's status as the API stores it (camelCase)."""
    return RunRecord(
        uid=uid,
        namespace=namespace,
        name=name,
        benchmark=benchmark,
        labels=dict(labels),
        phase=status.get("phase"),
        config_hash=status.get("configHash"),
        completed_at=status.get("completedAt"),
        model=status.get("model"),
        scores=finite_numbers(status.get("scores")),
        errors=finite_numbers(status.get("scoreErrors")),
    )


def finite_numbers(value: Any) -> dict[str, float]:
    """The finite numeric entries of a status map (scores, score errors); anything else dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }

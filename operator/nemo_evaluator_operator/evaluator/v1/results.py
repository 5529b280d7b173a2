"""Flat score keys from a v1 results document: `task.metric.score`, `groups.group.metric.score`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["flatten_scores"]


def flatten_scores(results: Mapping[str, Any]) -> dict[str, float]:
    """Every finite numeric score, keyed by its path in the document."""
    flat: dict[str, float] = {}
    for task, task_result in _items(results.get("tasks")):
        flat.update(_metric_scores(task, task_result))
    for group, group_result in _items(results.get("groups")):
        flat.update(_metric_scores(f"groups.{group}", group_result))
    return flat


def _metric_scores(prefix: str, holder: Any) -> Iterator[tuple[str, float]]:
    for metric, metric_result in _items(_get(holder, "metrics")):
        for score, score_value in _items(_get(metric_result, "scores")):
            value = _get(score_value, "value")
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and math.isfinite(value):
                yield f"{prefix}.{metric}.{score}", float(value)


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, Mapping) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None

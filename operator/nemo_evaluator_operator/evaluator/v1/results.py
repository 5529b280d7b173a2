"""Flat score keys from a v1 results document: `task.metric.score`, `groups.group.metric.score`,
and what NeMo reports about each besides its value (`stats`: count, stddev, stderr)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from ..port import ScoreStats

__all__ = ["flatten_scores", "flatten_stats"]


def flatten_scores(results: Mapping[str, Any]) -> dict[str, float]:
    """Every finite numeric score, keyed by its path in the document."""
    return {key: value for key, value, _ in _walk(results)}


def flatten_stats(results: Mapping[str, Any]) -> dict[str, ScoreStats]:
    """Count and spread of every score that reports them (for baseline noise)."""
    stats: dict[str, ScoreStats] = {}
    for key, _, raw in _walk(results):
        if not isinstance(raw, Mapping):
            continue
        count = raw.get("count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        std_dev, std_err = _finite(raw.get("stddev")), _finite(raw.get("stderr"))
        if std_err is None and std_dev is not None and count:
            std_err = std_dev / math.sqrt(count)
        if count is not None or std_dev is not None or std_err is not None:
            stats[key] = ScoreStats(count=count, std_dev=std_dev, std_err=std_err)
    return stats


def _walk(results: Mapping[str, Any]) -> Iterator[tuple[str, float, Any]]:
    for task, task_result in _items(results.get("tasks")):
        yield from _metric_scores(task, task_result)
    for group, group_result in _items(results.get("groups")):
        yield from _metric_scores(f"groups.{group}", group_result)


def _metric_scores(prefix: str, holder: Any) -> Iterator[tuple[str, float, Any]]:
    for metric, metric_result in _items(_get(holder, "metrics")):
        for score, score_value in _items(_get(metric_result, "scores")):
            value = _finite(_get(score_value, "value"))
            if value is not None:
                yield f"{prefix}.{metric}.{score}", value, _get(score_value, "stats")


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, Mapping) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None

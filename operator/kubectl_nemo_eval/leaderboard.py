"""A Benchmark's leaderboard: the operator's `status.leaderboard`, else built the same way.

The rules: only Succeeded EvalJobs of this Benchmark that ran its current config (their config
hash equals the Benchmark's), one metric, best score first (or lowest, for a loss), one row per
model (its latest run, as the operator ranks), at most `top` rows; equal scores rank the
run that finished first higher. Scores come from each EvalJob's status, so building it
reads no ConfigMap and costs NeMo nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import PluginError
from .table import age, render, score

__all__ = ["Entry", "build_leaderboard", "from_status", "render_leaderboard"]


@dataclass(frozen=True)
class Entry:
    """One row: a model, its score and the EvalJob that scored it."""

    model: str
    evaljob: str
    score: float
    completed_at: str | None


def from_status(benchmark: dict[str, Any]) -> tuple[str | None, list[Entry]] | None:
    """The operator's own leaderboard (metric, rows), or None while it keeps none."""
    status = benchmark.get("status") or {}
    rows = status.get("leaderboard")
    if not isinstance(rows, list):
        return None
    entries = [
        Entry(
            str(row.get("model") or "-"),
            str(row.get("evalJob") or "-"),
            float(row["score"]),
            row.get("completedAt"),
        )
        for row in rows
        if isinstance(row, dict) and isinstance(row.get("score"), int | float)
    ]
    metric = status.get("leaderboardMetric") or (benchmark.get("spec") or {}).get(
        "leaderboard", {}
    ).get("metric")
    return metric, entries


def build_leaderboard(
    benchmark: dict[str, Any],
    evaljobs: list[dict[str, Any]],
    metric: str | None,
    top: int,
    lowest_first: bool = False,
) -> tuple[str, list[Entry]]:
    """Rank the current-config runs on `metric` (default: the newest run's headline metric)."""
    current = _current_runs(benchmark, evaljobs)
    if not current:
        name = benchmark["metadata"]["name"]
        raise PluginError(f'no Succeeded EvalJob ran Benchmark "{name}" with its current config')
    chosen = metric or _default_metric(current)
    best: dict[str, Entry] = {}
    for ej in current:
        status = ej["status"]
        value = (status.get("scores") or {}).get(chosen)
        if value is None:
            continue
        entry = Entry(
            str(status.get("model") or "-"),
            ej["metadata"]["name"],
            float(value),
            status.get("completedAt"),
        )
        held = best.get(entry.model)
        if held is None or (entry.completed_at or "") > (held.completed_at or ""):
            best[entry.model] = entry
    if not best:
        raise PluginError(f"metric {chosen} is in no current run's status.scores")
    ranked = sorted(
        best.values(),
        key=lambda e: (e.score if lowest_first else -e.score, e.completed_at or "", e.model),
    )
    return chosen, ranked[:top]


def _current_runs(
    benchmark: dict[str, Any], evaljobs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    name = benchmark["metadata"]["name"]
    config = (benchmark.get("status") or {}).get("configHash")
    return [
        ej
        for ej in evaljobs
        if ej["spec"]["benchmarkRef"]["name"] == name
        and (ej.get("status") or {}).get("phase") == "Succeeded"
        and config is not None
        and ej["status"].get("configHash") == config
    ]


def _default_metric(runs: list[dict[str, Any]]) -> str:
    """The newest run's first status score: its first gated metric, else its first score."""
    newest = max(runs, key=lambda ej: ej["status"].get("completedAt") or "")
    scores = newest["status"].get("scores") or {}
    if not scores:
        raise PluginError(f'EvalJob "{newest["metadata"]["name"]}" has no scores in its status')
    return str(next(iter(scores)))


def render_leaderboard(name: str, metric: str | None, entries: list[Entry], now: datetime) -> str:
    title = f"Benchmark {name}" + (f", metric {metric}" if metric else "")
    if not entries:
        return f"{title}\n<no entries>"
    rows = [
        [str(rank), e.model, score(e.score), e.evaljob, age(e.completed_at, now)]
        for rank, e in enumerate(entries, start=1)
    ]
    table = render(["RANK", "MODEL", "SCORE", "EVALJOB", "COMPLETED"], rows, right=(0, 2))
    return f"{title}\n{table}"

"""A Benchmark's leaderboard from its EvalJobs' statuses: pure, so it costs no NeMo call.

Rules:
- only Succeeded runs that ran with the Benchmark's *current* config hash count (scores of
  another config are not comparable);
- one row per model, from its **latest** run (by completedAt): the board says how each model
  does now; taking each model's best run would reward re-running a noisy evaluation until it
  scores high, and would hide a regression behind an old score;
- ties on the score rank the run that finished first higher (it got there first), then by
  model name, so the order is stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import Benchmark, LeaderboardEntry, LeaderboardOrder
from .runs import RunRecord

__all__ = ["leaderboard_fields", "rank"]


def rank(
    runs: Iterable[RunRecord],
    config_hash: str | None,
    metric: str,
    order: LeaderboardOrder,
    size: int,
) -> list[LeaderboardEntry]:
    """The top `size` models by `metric`, from the runs of one Benchmark."""
    if not config_hash:
        return []
    latest: dict[str, RunRecord] = {}
    for run in runs:
        if run.phase != "Succeeded" or run.config_hash != config_hash or metric not in run.scores:
            continue
        model = run.model or run.name
        kept = latest.get(model)
        if kept is None or (run.completed_at or "", run.name) > (
            kept.completed_at or "",
            kept.name,
        ):
            latest[model] = run
    sign = -1.0 if order is LeaderboardOrder.DESC else 1.0
    ordered = sorted(
        latest.items(),
        key=lambda item: (sign * item[1].scores[metric], item[1].completed_at or "", item[0]),
    )
    return [
        LeaderboardEntry(
            model=model,
            eval_job=run.name,
            score=round(run.scores[metric], 6),
            completed_at=run.completed_at,
        )
        for model, run in ordered[:size]
    ]


def _metric(benchmark: Benchmark, runs: list[RunRecord]) -> str | None:
    """The spec's metric; else the first score name the Benchmark lists (Helix); else the first
    score of the latest Succeeded run on the current config."""
    spec = benchmark.spec.leaderboard
    if spec is not None and spec.metric:
        return spec.metric
    if benchmark.status.score_names:
        return benchmark.status.score_names[0]
    current = [
        r
        for r in runs
        if r.phase == "Succeeded" and r.config_hash == benchmark.status.config_hash and r.scores
    ]
    if not current:
        return None
    return next(iter(max(current, key=lambda r: (r.completed_at or "", r.name)).scores))


def leaderboard_fields(benchmark: Benchmark, runs: list[RunRecord], size: int) -> dict[str, Any]:
    """The three status fields (None clears one), from the runs on this Benchmark."""
    mine = [r for r in runs if r.benchmark == benchmark.metadata.name]
    metric = _metric(benchmark, mine)
    order = (
        benchmark.spec.leaderboard.order
        if benchmark.spec.leaderboard is not None
        else LeaderboardOrder.DESC
    )
    rows = rank(mine, benchmark.status.config_hash, metric, order, size) if metric else []
    top = f"{rows[0].model}={rows[0].score:.4g}" if rows else None
    return {
        "leaderboard": [
            row.model_dump(mode="json", by_alias=True, exclude_none=True) for row in rows
        ]
        or None,
        "leaderboardMetric": metric,
        "leaderboardTop": top,
    }

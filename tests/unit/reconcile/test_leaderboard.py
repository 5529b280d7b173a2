"""The leaderboard as a pure ranking: current config only, latest run per model, bounded."""

from __future__ import annotations

from typing import Any

from nemo_evaluator_operator.models import Benchmark, LeaderboardOrder
from nemo_evaluator_operator.reconcile.leaderboard import leaderboard_fields, rank
from nemo_evaluator_operator.reconcile.runs import RunRecord

M = "qa.bleu.sentence"


def run(name: str, model: str, score: float, at: str, **kw: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "uid": name, "namespace": "ns", "name": name, "benchmark": "bm", "phase": "Succeeded",
        "config_hash": "h1", "completed_at": f"2026-12-02T{at}:00Z", "model": model,
        "scores": {M: score},
    }  # fmt: skip
    fields.update(kw)
    return RunRecord(**fields)


def test_latest_run_per_model_on_the_current_config_best_first() -> None:
    runs = [
        run("a-old", "a", 0.9, "09:00"),
        run("a-new", "a", 0.5, "10:00"),  # latest of a: a regression shows
        run("b", "b", 0.7, "09:30"),
        run("c-failed", "c", 0.99, "09:00", phase="Failed"),
        run("d-old-config", "d", 0.95, "09:00", config_hash="h0"),
        run("e-no-metric", "e", 0.1, "09:00", scores={}),
    ]
    rows = rank(runs, "h1", M, LeaderboardOrder.DESC, 10)
    assert [(r.model, r.eval_job, r.score) for r in rows] == [("b", "b", 0.7), ("a", "a-new", 0.5)]
    rows = rank(runs, "h1", M, LeaderboardOrder.ASC, 10)
    assert [r.model for r in rows] == ["a", "b"]


def test_bounded_and_ties_rank_the_earlier_finish_first() -> None:
    runs = [run(f"r{i}", f"m{i}", 0.5, f"1{i}:00") for i in range(5)]
    rows = rank(runs, "h1", M, LeaderboardOrder.DESC, 3)
    assert [r.model for r in rows] == ["m0", "m1", "m2"]
    assert rank(runs, None, M, LeaderboardOrder.DESC, 3) == []


def benchmark(**spec: Any) -> Benchmark:
    return Benchmark.model_validate({
        "apiVersion": "evaluator.nemo.dev/v1alpha1", "kind": "Benchmark",
        "metadata": {"name": "bm", "namespace": "ns"},
        "spec": {"config": {"type": "custom"}, **spec},
        "status": {"configHash": "h1"},
    })  # fmt: skip


def test_fields_for_status_and_the_printer_column() -> None:
    runs = [run("x", "good", 0.9, "09:00"), run("y", "fair", 0.6, "09:00", benchmark="other")]
    fields = leaderboard_fields(benchmark(leaderboard={"metric": M}), runs, 10)
    assert fields["leaderboardMetric"] == M
    assert fields["leaderboardTop"] == "good=0.9"
    assert fields["leaderboard"] == [
        {"model": "good", "evalJob": "x", "score": 0.9, "completedAt": "2026-12-02T09:00:00Z"}
    ]
    assert leaderboard_fields(benchmark(), [], 10) == {
        "leaderboard": None, "leaderboardMetric": None, "leaderboardTop": None,
    }  # fmt: skip
    assert leaderboard_fields(benchmark(), runs, 10)["leaderboardMetric"] == M  # the default

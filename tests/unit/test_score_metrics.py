"""Score gauges: one series set per Benchmark and model, from its latest run, gone with it."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest

from nemo_evaluator_operator.metrics import Metrics


def status(
    at: str, scores: dict[str, float], phase: str = "Succeeded", model: str = "m", **extra: Any
) -> dict[str, Any]:
    return {"phase": phase, "completedAt": at, "model": model, "scores": scores, **extra}


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """name's samples, keyed by their sorted labels."""
    found = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def score(metrics: Metrics, metric: str, model: str = "m", bm: str = "bm") -> float | None:
    key = (("benchmark", bm), ("metric", metric), ("model", model), ("namespace", "ns"))
    return samples(metrics, "nemo_evaluator_operator_score").get(key)


T1, T2, T3 = "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z"


def test_the_newest_run_replaces_the_older_runs_series() -> None:
    metrics = Metrics()
    metrics.scores.observe("a", "ns", "bm", status(T1, {"acc": 0.5, "f1": 0.4}))
    metrics.scores.observe("b", "ns", "bm", status(T2, {"acc": 0.7}))
    assert score(metrics, "acc") == 0.7
    assert score(metrics, "f1") is None  # only the latest run's scores are series
    metrics.scores.observe("c", "ns", "bm", status(T1, {"acc": 0.1}))  # older, arriving late
    assert score(metrics, "acc") == 0.7
    stamps = samples(metrics, "nemo_evaluator_operator_last_success_timestamp_seconds")
    assert list(stamps.values()) == [1796122800.0]  # T2


def test_deleting_the_latest_falls_back_and_deleting_all_removes_every_series() -> None:
    metrics = Metrics()
    metrics.scores.observe("a", "ns", "bm", status(T1, {"acc": 0.5}))
    metrics.scores.observe("b", "ns", "bm", status(T2, {"acc": 0.7}))
    metrics.scores.forget("b")
    assert score(metrics, "acc") == 0.5
    metrics.scores.forget("a")
    text = generate_latest(metrics.registry).decode()
    assert 'benchmark="bm"' not in text


def test_models_and_benchmarks_are_separate_series() -> None:
    metrics = Metrics()
    metrics.scores.observe("a", "ns", "bm", status(T1, {"acc": 0.5}, model="x"))
    metrics.scores.observe("b", "ns", "bm", status(T2, {"acc": 0.7}, model="y"))
    metrics.scores.observe("c", "ns", "other", status(T3, {"acc": 0.9}, model="x"))
    assert score(metrics, "acc", "x") == 0.5
    assert score(metrics, "acc", "y") == 0.7
    assert score(metrics, "acc", "x", "other") == 0.9


def test_gate_outcome_and_a_gate_failed_run_still_shows_its_scores() -> None:
    metrics = Metrics()
    gate_ok = [{"metric": "acc", "passed": True, "message": ""}]
    gate_bad = [{"metric": "acc", "passed": False, "message": ""}]
    metrics.scores.observe("a", "ns", "bm", status(T1, {"acc": 0.8}, gate=gate_ok))
    gates = samples(metrics, "nemo_evaluator_operator_gate_passed")
    assert list(gates.values()) == [1.0]
    metrics.scores.observe("b", "ns", "bm", status(T2, {"acc": 0.2}, "Failed", gate=gate_bad))
    assert list(samples(metrics, "nemo_evaluator_operator_gate_passed").values()) == [0.0]
    assert score(metrics, "acc") == 0.2  # the regression that failed the gate is visible
    stamps = samples(metrics, "nemo_evaluator_operator_last_success_timestamp_seconds")
    assert list(stamps.values()) == [1796119200.0]  # T1: the Failed run is no success
    metrics.scores.observe("c", "ns", "bm", status(T3, {"acc": 0.9}))  # no gate
    assert samples(metrics, "nemo_evaluator_operator_gate_passed") == {}


def test_unfinished_runs_make_no_series_and_are_cheap_to_see_again() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.scores.observe("a", "ns", "bm", {"phase": "Running", "progress": 0.5})
    metrics.scores.observe("b", "ns", "bm", status(T1, {}, "Failed"))  # failed, no results
    assert samples(metrics, "nemo_evaluator_operator_score") == {}
    assert samples(metrics, "nemo_evaluator_operator_last_success_timestamp_seconds") == {}


def test_evaljobs_by_namespace_and_finished_counter() -> None:
    metrics = Metrics()
    metrics.set_phase("listed-done", "Failed", "ns")  # listed at start: not seen finishing
    metrics.set_phase("a", "Pending", "ns")
    metrics.set_phase("a", "Running", "ns")
    metrics.set_phase("a", "Failed", "ns")
    metrics.set_phase("b", "Running", "other")
    finished = samples(metrics, "nemo_evaluator_operator_evaljobs_finished_total")
    assert finished[(("namespace", "ns"), ("phase", "Failed"))] == 1.0
    assert finished[(("namespace", "ns"), ("phase", "Succeeded"))] == 0.0
    phases = samples(metrics, "nemo_evaluator_operator_evaljobs")
    assert phases[(("namespace", "ns"), ("phase", "Failed"))] == 2.0
    assert phases[(("namespace", "other"), ("phase", "Running"))] == 1.0
    assert phases[(("namespace", "other"), ("phase", "Failed"))] == 0.0

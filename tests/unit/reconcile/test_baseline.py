"""Baseline gates as pure decisions: which run is the baseline, when a comparison is refused,
and how drop, noise and margin are judged."""

from __future__ import annotations

import math

import pytest

from nemo_evaluator_operator.evaluator.port import JobResults, ScoreStats
from nemo_evaluator_operator.evaluator.v1.results import flatten_stats
from nemo_evaluator_operator.models import (
    BaselineRecord,
    BaselineRef,
    Better,
    CriterionResult,
    LabelSelector,
    LabelSelectorRequirement,
    NoiseWidening,
    PassCriterion,
)
from nemo_evaluator_operator.reconcile.baseline import (
    Refusal,
    ThisRun,
    find_baseline,
    judge_baseline,
    selector_matches,
)
from nemo_evaluator_operator.reconcile.results import (
    evaluate_criteria,
    render_results,
    summary_table,
)
from nemo_evaluator_operator.reconcile.runs import RunRecord, run_record

METRIC = "qa.bleu.sentence"
HASH = "aaaa000011112222"
ME = ThisRun("me", "ns", "bm", HASH, {METRIC: 30.0}, {METRIC: 1.0})


def run(name: str, score: float | None = 32.0, **kw: object) -> RunRecord:
    fields: dict[str, object] = {
        "uid": f"uid-{name}",
        "namespace": "ns",
        "name": name,
        "benchmark": "bm",
        "phase": "Succeeded",
        "config_hash": HASH,
        "completed_at": "2026-12-02T10:00:00Z",
        "scores": {} if score is None else {METRIC: score},
        "errors": {METRIC: 1.0},
    }
    fields.update(kw)
    return RunRecord(**fields)  # type: ignore[arg-type]


def named(name: str, **kw: object) -> PassCriterion:
    return PassCriterion(metric=METRIC, baseline=BaselineRef(eval_job=name), **kw)  # type: ignore[arg-type]


def by_labels(**labels: str) -> PassCriterion:
    selector = LabelSelector(match_labels=labels)
    return PassCriterion(metric=METRIC, baseline=BaselineRef(selector=selector), max_drop=5)


def test_within_the_drop_passes_with_margin_and_record() -> None:
    result = judge_baseline(named("base", max_drop=5), ME, [run("base")])
    assert result.passed
    assert result.margin == pytest.approx(3.0)  # allowed 5, dropped 2
    assert result.baseline == BaselineRecord(
        eval_job="base", uid="uid-base", value=32.0, std_err=1.0, config_hash=HASH
    )
    assert "vs baseline 32" in result.message
    assert "margin 3" in result.message


def test_a_larger_drop_fails_with_negative_margin() -> None:
    result = judge_baseline(named("base", max_drop=1), ME, [run("base")])
    assert not result.passed
    assert result.margin == pytest.approx(-1.0)
    assert result.reason is None
    assert "exceeds" in result.message


def test_relative_drop_is_a_fraction_of_the_baseline() -> None:
    assert judge_baseline(named("base", max_relative_drop=0.1), ME, [run("base")]).passed
    failed = judge_baseline(named("base", max_relative_drop=0.05), ME, [run("base")])
    assert not failed.passed
    assert failed.margin == pytest.approx(0.05 * 32 - 2)


def test_noise_widens_by_sigmas_of_the_difference() -> None:
    strict = named("base", max_drop=1)
    widened = named("base", max_drop=1, noise=NoiseWidening(sigmas=2))
    assert not judge_baseline(strict, ME, [run("base")]).passed
    result = judge_baseline(widened, ME, [run("base")])
    assert result.passed
    assert result.margin == pytest.approx(1 + 2 * math.sqrt(2) - 2)
    assert "noise" in result.message


def test_lower_is_better_turns_the_drop_around() -> None:
    criterion = named("base", max_drop=0.5, better=Better.LOWER)
    assert judge_baseline(criterion, ME, [run("base", 32.0)]).passed  # 30 < 32: an improvement
    assert not judge_baseline(criterion, ME, [run("base", 29.0)]).passed


def test_equal_scores_pass_a_zero_drop() -> None:
    me = ThisRun("me", "ns", "bm", HASH, {METRIC: 0.1 + 0.2}, {})
    assert judge_baseline(named("base", max_drop=0), me, [run("base", 0.3)]).passed


@pytest.mark.parametrize(
    ("runs", "reason", "says"),
    [
        ([], "BaselineNotFound", "does not exist"),
        ([run("base", phase="Running")], "BaselineNotSucceeded", "is Running"),
        ([run("base", config_hash="bbbb")], "BaselineNotComparable", "Benchmark config bbbb"),
        ([run("base", config_hash=None)], "BaselineNotComparable", "unknown"),
        ([run("base", score=None)], "BaselineNotComparable", f"no score {METRIC}"),
    ],
)
def test_refused_comparisons_fail_with_a_reason(
    runs: list[RunRecord], reason: str, says: str
) -> None:
    result = judge_baseline(named("base", max_drop=100), ME, runs)
    assert not result.passed
    assert result.reason == reason
    assert says in result.message
    assert result.message.startswith("refused: ")


def test_a_metric_missing_from_this_run_is_not_found() -> None:
    me = ThisRun("me", "ns", "bm", HASH, {}, {})
    result = judge_baseline(named("base", max_drop=1), me, [run("base")])
    assert (result.passed, result.reason) == (False, "MetricNotFound")


def test_selector_picks_the_latest_succeeded_match_on_the_same_benchmark() -> None:
    runs = [
        run("old", labels={"track": "prod"}, completed_at="2026-12-02T09:00:00Z"),
        run("new", labels={"track": "prod"}, completed_at="2026-12-02T11:00:00Z"),
        run("newer-failed", labels={"track": "prod"}, completed_at="2026-12-02T12:00:00Z",
            phase="Failed"),
        run("other-bench", labels={"track": "prod"}, completed_at="2026-12-02T13:00:00Z",
            benchmark="other"),
        run("other-ns", labels={"track": "prod"}, completed_at="2026-12-02T13:00:00Z",
            namespace="elsewhere"),
        run("unlabelled", completed_at="2026-12-02T13:00:00Z"),
        run("me", labels={"track": "prod"}, completed_at="2026-12-02T14:00:00Z", uid="me"),
    ]  # fmt: skip
    found = find_baseline(by_labels(track="prod").baseline or BaselineRef(), ME, runs)
    assert isinstance(found, RunRecord)
    assert found.name == "new"
    missing = find_baseline(by_labels(track="canary").baseline or BaselineRef(), ME, runs)
    assert isinstance(missing, Refusal)
    assert missing.reason == "BaselineNotFound"


@pytest.mark.parametrize(
    ("operator", "values", "labels", "matches"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a"], {"k": "c"}, False),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "c"}, True),
        ("NotIn", ["a"], {}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "x"}, False),
    ],
)
def test_selector_expressions(
    operator: str, values: list[str], labels: dict[str, str], matches: bool
) -> None:
    selector = LabelSelector(
        match_expressions=[LabelSelectorRequirement(key="k", operator=operator, values=values)]
    )
    assert selector_matches(selector, labels) is matches


def test_a_recorded_baseline_is_reused_even_after_it_is_gone() -> None:
    criterion = by_labels(track="prod")
    first = evaluate_criteria(ME.scores, [criterion], ME, [run("base", labels={"track": "prod"})])
    assert first[0].passed
    assert first[0].baseline is not None
    newer = run("newer", 10.0, labels={"track": "prod"}, completed_at="2026-12-02T12:00:00Z")
    again = evaluate_criteria(ME.scores, [criterion], ME, [newer], recorded=first)
    assert again == first


def test_min_max_criteria_get_a_margin_too() -> None:
    (low, high) = evaluate_criteria(
        {METRIC: 30.0},
        [PassCriterion(metric=METRIC, min=25), PassCriterion(metric=METRIC, min=0, max=29)],
    )
    assert (low.passed, low.margin) == (True, 5.0)
    assert (high.passed, high.margin) == (False, -1.0)


def test_summary_shows_baseline_value_new_value_and_margin() -> None:
    gate = [judge_baseline(named("base", max_drop=1), ME, [run("base")])]
    text = summary_table("job-1", ME.scores, gate)
    line = next(line for line in text.splitlines() if line.startswith("FAIL"))
    assert "30 vs baseline 32 (base)" in line
    assert "margin -1" in line


def test_v1_stats_give_standard_errors() -> None:
    document = {
        "tasks": {
            "qa": {
                "metrics": {
                    "bleu": {
                        "scores": {
                            "sentence": {"value": 31.2, "stats": {"count": 50, "stderr": 0.7}},
                            "corpus": {"value": 28.7, "stats": {"count": 4, "stddev": 2.0}},
                            "plain": {"value": 1.0},
                        }
                    }
                }
            }
        }
    }
    stats = flatten_stats(document)
    assert stats["qa.bleu.sentence"] == ScoreStats(count=50, std_dev=None, std_err=0.7)
    assert stats["qa.bleu.corpus"].std_err == pytest.approx(1.0)
    assert "qa.bleu.plain" not in stats
    rendered = render_results(JobResults(scores={"qa.bleu.sentence": 31.2}, document={},
                                         stats=stats))  # fmt: skip
    assert rendered.errors["qa.bleu.sentence"] == 0.7


def test_run_record_reads_the_status_as_stored() -> None:
    record = run_record(
        "u", "ns", "ej", "bm", {"a": "b"},
        {"phase": "Succeeded", "configHash": HASH, "scores": {METRIC: 1, "bad": "x"},
         "scoreErrors": {METRIC: 0.1}, "model": "good", "completedAt": "t"},
    )  # fmt: skip
    assert record.scores == {METRIC: 1.0}
    assert record.errors == {METRIC: 0.1}
    assert (record.phase, record.config_hash, record.model) == ("Succeeded", HASH, "good")


def test_criterion_result_keeps_refusal_reason() -> None:
    result = CriterionResult(metric=METRIC, reason="BaselineNotComparable", passed=False,
                             message="refused")  # fmt: skip
    assert result.model_dump(by_alias=True, exclude_none=True)["reason"] == "BaselineNotComparable"

"""Results rendering, splitting, naming, scores and conditions bookkeeping."""

from __future__ import annotations

import json

import pytest

from nemo_evaluator_operator.evaluator.port import JobResults
from nemo_evaluator_operator.evaluator.v1.results import flatten_scores
from nemo_evaluator_operator.models import Condition, PassCriterion
from nemo_evaluator_operator.reconcile.conditions import CondSpec, set_condition
from nemo_evaluator_operator.reconcile.results import (
    evaluate_criteria,
    headline,
    render_results,
    results_config_map_name,
    split_text,
)


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1000, 12345])
def test_split_reassembles_exactly(size: int) -> None:
    text = "".join(chr(32 + i % 90) for i in range(size))
    parts = split_text(text, 100)
    assert "".join(parts) == text
    assert all(len(part.encode()) <= 100 for part in parts)


def test_unicode_results_are_escaped_so_byte_splitting_is_safe() -> None:
    document = {"tasks": {"ünï": {"metrics": {"m": {"scores": {"s": {"value": 1}}}}}}}
    rendered = render_results(JobResults(scores=flatten_scores(document), document=document))
    assert rendered.text.isascii()
    assert (
        json.loads("".join(rendered.parts))["tasks"]["ünï"]["metrics"]["m"]["scores"]["s"]["value"]
        == 1
    )


def test_large_results_split_into_parts_under_the_configmap_limit() -> None:
    big = {"tasks": {"t": {"metrics": {}, "data": {"blob": "x" * (3 * 1024 * 1024)}}}}
    rendered = render_results(JobResults(scores={}, document=big))
    assert len(rendered.parts) == 4
    assert all(len(p) <= 900 * 1024 for p in rendered.parts)
    assert json.loads("".join(rendered.parts)) == big


def test_flatten_scores_ignores_non_numbers() -> None:
    results = {
        "tasks": {
            "qa": {
                "metrics": {
                    "bleu": {"scores": {"sentence": {"value": 31.2}, "bad": {"value": "x"}}}
                }
            }
        },
        "groups": {"all": {"metrics": {"avg": {"scores": {"mean": {"value": 0.5}}}}}},
    }
    assert flatten_scores(results) == {"qa.bleu.sentence": 31.2, "groups.all.avg.mean": 0.5}


def test_headline_prefers_gated_metric() -> None:
    scores = {"a.b.c": 1.0, "d.e.f": 2.0}
    assert headline(scores, []) == "a.b.c=1"
    assert headline(scores, [PassCriterion(metric="d.e.f", min=1)]) == "d.e.f=2"
    assert headline({}, []) is None


def test_criteria_bounds() -> None:
    results = evaluate_criteria(
        {"m": 0.5},
        [
            PassCriterion(metric="m", min=0.5),
            PassCriterion(metric="m", max=0.4),
            PassCriterion(metric="x", min=0),
        ],
    )
    assert [r.passed for r in results] == [True, False, False]
    assert "not in the results" in results[2].message


def test_long_names_are_shortened_deterministically() -> None:
    name = "a" * 253
    assert len(results_config_map_name(name)) <= 253
    assert results_config_map_name(name, 3).endswith("-results-3")
    assert results_config_map_name("short") == "short-results"


def test_last_transition_time_moves_only_on_flip() -> None:
    first = set_condition([], CondSpec("Ready", "False", "Waiting", "a"), 1, "t1")
    same = set_condition(first, CondSpec("Ready", "False", "Other", "b"), 2, "t2")
    flipped = set_condition(same, CondSpec("Ready", "True", "Done"), 2, "t3")
    assert [c.last_transition_time for c in (*first, *same, *flipped)] == ["t1", "t1", "t3"]
    assert same[0].observed_generation == 2
    assert same[0].reason == "Other"
    assert isinstance(flipped[0], Condition)


@pytest.mark.parametrize("length", [1, 63, 64, 253])
def test_label_values_fit_the_63_character_limit(length: int) -> None:
    import re

    from nemo_evaluator_operator.reconcile.results import label_value

    name = ("a" * (length - 1) + "z")[:length]
    value = label_value(name)
    assert len(value) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?", value)
    assert (value == name) is (length <= 63)

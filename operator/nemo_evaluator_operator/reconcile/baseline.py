"""Baseline gates: find the run to compare with, refuse what cannot be compared, judge the drop.

Pure decisions over `RunRecord`s (the EvalJobs as the engine's index holds them). A refused
comparison fails the gate: a gate that compares runs of different Benchmark configs, or scores
of different definitions, is worse than none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..constants import Reason
from ..models import (
    BaselineRecord,
    BaselineRef,
    Better,
    CriterionResult,
    LabelSelector,
    PassCriterion,
)
from .runs import RunRecord

__all__ = [
    "Refusal",
    "ThisRun",
    "find_baseline",
    "judge_baseline",
    "record_of",
    "selector_matches",
]

BASELINE_NOT_FOUND = Reason.BASELINE_NOT_FOUND
BASELINE_NOT_SUCCEEDED = Reason.BASELINE_NOT_SUCCEEDED
BASELINE_NOT_COMPARABLE = Reason.BASELINE_NOT_COMPARABLE
METRIC_NOT_FOUND = Reason.METRIC_NOT_FOUND
_TOLERANCE = 1e-9  # float noise in (baseline - value) must not fail an equal score


@dataclass(frozen=True)
class Refusal:
    """Why there is no comparison: a CamelCase reason and a sentence."""

    reason: str
    message: str


@dataclass(frozen=True)
class ThisRun:
    """The run being gated: where it is, what it ran with, what it scored."""

    uid: str
    namespace: str
    benchmark: str
    config_hash: str | None
    scores: Mapping[str, float]
    errors: Mapping[str, float]


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """`metav1.LabelSelector` semantics: every matchLabels pair and every expression holds."""
    wanted = selector.match_labels or {}
    if any(labels.get(key) != value for key, value in wanted.items()):
        return False
    for req in selector.match_expressions or []:
        present, values = req.key in labels, req.values or []
        if req.operator == "In" and (not present or labels[req.key] not in values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def find_baseline(ref: BaselineRef, me: ThisRun, runs: Iterable[RunRecord]) -> RunRecord | Refusal:
    """The named EvalJob, or the latest Succeeded one with matching labels on the same Benchmark
    (latest by completedAt; this run itself never counts)."""
    others = [r for r in runs if r.namespace == me.namespace and r.uid != me.uid]
    if ref.eval_job is not None:
        named = next((r for r in others if r.name == ref.eval_job), None)
        if named is None:
            return Refusal(BASELINE_NOT_FOUND, f"baseline EvalJob {ref.eval_job} does not exist")
        if named.phase != "Succeeded":
            return Refusal(
                BASELINE_NOT_SUCCEEDED,
                f"baseline EvalJob {named.name} is {named.phase or 'Pending'}, not Succeeded",
            )
        return named
    selector = ref.selector or LabelSelector()
    matching = [
        r
        for r in others
        if r.benchmark == me.benchmark
        and r.phase == "Succeeded"
        and selector_matches(selector, r.labels)
    ]
    if not matching:
        return Refusal(
            BASELINE_NOT_FOUND,
            f"no Succeeded EvalJob on Benchmark {me.benchmark} matches the baseline selector",
        )
    return max(matching, key=lambda r: (r.completed_at or "", r.name))


def record_of(run: RunRecord, metric: str) -> BaselineRecord:
    """What the status keeps of a baseline: enough to judge again without it."""
    return BaselineRecord(
        eval_job=run.name,
        uid=run.uid,
        value=run.scores.get(metric),
        std_err=run.errors.get(metric),
        config_hash=run.config_hash,
    )


def judge_baseline(
    criterion: PassCriterion,
    me: ThisRun,
    runs: Iterable[RunRecord],
    recorded: BaselineRecord | None = None,
) -> CriterionResult:
    """One baseline criterion: the recorded baseline if there is one, else the one found now."""
    if recorded is None:
        found = find_baseline(criterion.baseline or BaselineRef(), me, runs)
        if isinstance(found, Refusal):
            return _refused(criterion, me, None, found)
        recorded = record_of(found, criterion.metric)
    refusal = _not_comparable(criterion, me, recorded)
    if refusal is not None:
        return _refused(criterion, me, recorded, refusal)
    return _compared(criterion, me, recorded)


def _not_comparable(criterion: PassCriterion, me: ThisRun, base: BaselineRecord) -> Refusal | None:
    if not base.config_hash or not me.config_hash or base.config_hash != me.config_hash:
        return Refusal(
            BASELINE_NOT_COMPARABLE,
            f"baseline {base.eval_job} ran with Benchmark config {base.config_hash or 'unknown'}, "
            f"this run with {me.config_hash or 'unknown'}",
        )
    if base.value is None:
        return Refusal(
            BASELINE_NOT_COMPARABLE,
            f"baseline {base.eval_job} has no score {criterion.metric} (a different score "
            "definition, or not among its status.scores)",
        )
    if criterion.metric not in me.scores:
        return Refusal(METRIC_NOT_FOUND, f"metric {criterion.metric} is not in the results")
    return None


def _refused(
    criterion: PassCriterion, me: ThisRun, base: BaselineRecord | None, refusal: Refusal
) -> CriterionResult:
    return CriterionResult(
        metric=criterion.metric,
        value=me.scores.get(criterion.metric),
        baseline=base,
        reason=refusal.reason,
        passed=False,
        message=f"refused: {refusal.message}",
    )


def _compared(criterion: PassCriterion, me: ThisRun, base: BaselineRecord) -> CriterionResult:
    value = me.scores[criterion.metric]
    assert base.value is not None
    drop = value - base.value if criterion.better is Better.LOWER else base.value - value
    if criterion.max_drop is not None:
        allowed = criterion.max_drop
    else:
        allowed = (criterion.max_relative_drop or 0.0) * abs(base.value)
    noise = _noise(criterion, me.errors.get(criterion.metric), base.std_err)
    margin = allowed + noise - drop
    passed = margin >= -_TOLERANCE
    widened = "" if criterion.noise is None else f" + {noise:.4g} noise"
    verdict = "within" if passed else "exceeds"
    message = (
        f"{value:.6g} vs baseline {base.value:.6g} ({base.eval_job}): drop {drop:.4g} "
        f"{verdict} {allowed:.4g}{widened}; margin {margin:.4g}"
    )
    return CriterionResult(
        metric=criterion.metric,
        value=value,
        baseline=base,
        margin=round(margin, 9),
        passed=passed,
        message=message,
    )


def _noise(criterion: PassCriterion, new_err: float | None, base_err: float | None) -> float:
    """sigmas x the standard error of the difference of two independent means (the errors
    the evaluator reported; a missing one counts as zero)."""
    if criterion.noise is None:
        return 0.0
    errors = [e for e in (new_err, base_err) if e is not None and math.isfinite(e)]
    return criterion.noise.sigmas * math.sqrt(sum(e * e for e in errors))

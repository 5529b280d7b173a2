"""NeMo results → ConfigMap parts, headline scores, a readable summary and quality gates."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..evaluator.port import JobResults
from ..models import CriterionResult, PassCriterion
from .baseline import ThisRun, judge_baseline
from .runs import RunRecord

__all__ = [
    "PART_BYTES",
    "RenderedResults",
    "evaluate_criteria",
    "headline",
    "label_value",
    "render_results",
    "results_config_map_name",
    "split_text",
    "status_errors",
    "status_scores",
    "summary_table",
]

# A ConfigMap holds at most 1 MiB in total (data plus metadata); leave room for the rest.
PART_BYTES = 900 * 1024
SUMMARY_BYTES = 64 * 1024  # the index ConfigMap's summary.txt, so the index stays small too
SUMMARY_SCORES = 200
MAX_STATUS_SCORES = 16
MAX_NAME = 253
MAX_LABEL = 63


@dataclass(frozen=True)
class RenderedResults:
    """Everything derived from one results document."""

    text: str
    parts: list[str]
    sha256: str
    scores: dict[str, float]
    errors: dict[str, float]  # the standard error of each score that reports one


def render_results(results: JobResults) -> RenderedResults:
    """Serialise deterministically (ASCII, so bytes == characters) and split into parts.

    NaN and infinite numbers (which JSON cannot hold) are written as the strings "NaN",
    "Infinity" and "-Infinity", so results.json is always valid JSON and nothing is dropped.
    """
    text = json.dumps(_strict(results.document), ensure_ascii=True, indent=1, allow_nan=False)
    return RenderedResults(
        text=text,
        parts=split_text(text, PART_BYTES),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        scores=dict(results.scores),
        errors={
            key: stats.std_err
            for key, stats in results.stats.items()
            if stats.std_err is not None and math.isfinite(stats.std_err)
        },
    )


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def split_text(text: str, limit: int) -> list[str]:
    """Cut ASCII text into pieces of at most `limit` bytes; joining them gives `text` back."""
    if not text.isascii():
        raise ValueError("results text must be ASCII so parts split on byte boundaries")
    return [text[i : i + limit] for i in range(0, len(text), limit)] or [""]


def results_config_map_name(evaljob_name: str, part: int | None = None) -> str:
    """`<name>-results` and `<name>-results-<n>`, shortened with a hash if too long."""
    suffix = "-results" if part is None else f"-results-{part}"
    if len(evaljob_name) + len(suffix) <= MAX_NAME:
        return evaljob_name + suffix
    digest = hashlib.sha256(evaljob_name.encode()).hexdigest()[:8]
    return f"{evaljob_name[: MAX_NAME - len(suffix) - 9]}-{digest}{suffix}"


def label_value(name: str) -> str:
    """A label value for an object name: label values stop at 63 characters, names do not."""
    if len(name) <= MAX_LABEL:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_LABEL - 9]}-{digest}"


def status_scores(scores: Mapping[str, float], criteria: list[PassCriterion]) -> dict[str, float]:
    """A capped selection for status: gated metrics first, then the rest in results order."""
    chosen = [c.metric for c in criteria if c.metric in scores]
    chosen += [key for key in scores if key not in chosen]
    return {key: round(scores[key], 6) for key in chosen[:MAX_STATUS_SCORES]}


def status_errors(errors: Mapping[str, float], scores: Mapping[str, float]) -> dict[str, float]:
    """The standard errors of the scores kept in status (a baseline gate reads them later)."""
    return {key: round(errors[key], 9) for key in scores if key in errors}


def headline(scores: Mapping[str, float], criteria: list[PassCriterion]) -> str | None:
    """One `metric=value` for `kubectl get`: the first gated metric, else the first score."""
    for criterion in criteria:
        if criterion.metric in scores:
            return f"{criterion.metric}={scores[criterion.metric]:.4g}"
    for key, value in scores.items():
        return f"{key}={value:.4g}"
    return None


def evaluate_criteria(
    scores: Mapping[str, float],
    criteria: list[PassCriterion],
    me: ThisRun | None = None,
    runs: list[RunRecord] | None = None,
    recorded: list[CriterionResult] | None = None,
) -> list[CriterionResult]:
    """Check each pass criterion; a metric missing from the results fails with that reason.

    Baseline criteria compare with other runs (`runs`); a baseline already `recorded` in the
    status for the same criterion is reused, so judging again gives the same answer.
    """
    me = me or ThisRun("", "", "", None, scores, {})
    earlier = recorded or []
    results = []
    for index, criterion in enumerate(criteria):
        if criterion.baseline is None:
            results.append(_evaluate(scores, criterion))
            continue
        before = earlier[index] if index < len(earlier) else None
        same = before is not None and before.metric == criterion.metric
        kept = before.baseline if same and before is not None else None
        results.append(judge_baseline(criterion, me, runs or [], kept))
    return results


def _evaluate(scores: Mapping[str, float], criterion: PassCriterion) -> CriterionResult:
    value = scores.get(criterion.metric)
    margin: float | None = None
    if value is None:
        message = f"metric {criterion.metric} is not in the results"
        passed = False
    else:
        low_ok = criterion.min is None or value >= criterion.min
        high_ok = criterion.max is None or value <= criterion.max
        passed = low_ok and high_ok
        margins = [value - criterion.min] if criterion.min is not None else []
        margins += [criterion.max - value] if criterion.max is not None else []
        margin = round(min(margins), 9) if margins else None
        message = f"{value:.6g} {'within' if passed else 'outside'} {_bounds(criterion)}"
    return CriterionResult(
        metric=criterion.metric,
        value=value,
        min=criterion.min,
        max=criterion.max,
        margin=margin,
        passed=passed,
        message=message,
    )


def _bounds(criterion: PassCriterion) -> str:
    low = "-inf" if criterion.min is None else f"{criterion.min:g}"
    high = "+inf" if criterion.max is None else f"{criterion.max:g}"
    return f"[{low}, {high}]"


_API_NAMES = {"v1": "NeMo Microservices v1", "helix": "NeMo Helix"}


def summary_table(
    job_id: str, scores: Mapping[str, float], gate: list[CriterionResult], api: str | None = None
) -> str:
    """A plain-text table a person can read with `kubectl get cm -o yaml`, at most 64 KiB.

    The first 200 scores are listed (each name cut at 200 characters), then how many more
    results.json holds; the pass criteria always come first, so they are never the part cut.
    """
    shown = list(scores.items())[:SUMMARY_SCORES]
    names = [_short(key) for key, _ in shown]
    width = max([len("METRIC"), *(len(name) for name in names)])
    evaluator = _API_NAMES.get(api or "", "NeMo Evaluator")
    lines = [f"{evaluator} job {job_id}", ""]
    if gate:
        lines += ["PASS CRITERIA"]
        lines += [f"{'PASS' if r.passed else 'FAIL'}  {r.metric}: {r.message}" for r in gate]
        lines += [""]
    lines += [f"{'METRIC':<{width}}  VALUE"]
    lines += [
        f"{name:<{width}}  {value:.6g}" for name, (_, value) in zip(names, shown, strict=True)
    ]
    if len(scores) > len(shown):
        lines += [f"... and {len(scores) - len(shown)} more scores in results.json"]
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_BYTES:
        text = (
            text.encode()[: SUMMARY_BYTES - 64].decode(errors="ignore")
            + "\n... [cut: see results.json]\n"
        )
    return text


def _short(name: str, limit: int = 200) -> str:
    return name if len(name) <= limit else name[: limit - 3] + "..."

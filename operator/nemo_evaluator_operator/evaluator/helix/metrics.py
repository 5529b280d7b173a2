"""Metrics as people write them → the bundles NeMo Helix accepts.

Helix takes an inline metric only as a bundle whose declared `outputs` equal what the metric
produces (it refuses any difference with 422). Which outputs a metric type has is the SDK's
knowledge; this table holds it for the built-in types whose outputs do not depend on anything
but their parameters' shape (Helix 0.8.1). Other types are written as a bundle or stored in
Helix and referenced by name; both are sent as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ..errors import InvalidDefinitionError

__all__ = ["BUNDLED_TYPES", "bundle_metrics", "score_names"]

_CONTINUOUS: Final = {
    "description": "Continuous numeric metric value.",
    "title": "ContinuousScore",
    "type": "number",
}
_RETRIEVAL_CUTOFFS: Final = (1, 5, 10, 100)


def _fixed(*names: str) -> Callable[[Mapping[str, Any]], list[str]]:
    return lambda _metric: list(names)


def _cutoffs(prefix: str) -> Callable[[Mapping[str, Any]], list[str]]:
    def names(metric: Mapping[str, Any]) -> list[str]:
        cutoffs = metric.get("k", list(_RETRIEVAL_CUTOFFS))
        if not isinstance(cutoffs, list) or not all(isinstance(k, int) for k in cutoffs):
            raise InvalidDefinitionError(f"metric {metric.get('type')}: k must be a list of ints")
        return [f"{prefix}_{k}" for k in cutoffs]

    return names


_OUTPUTS: Final[Mapping[str, Callable[[Mapping[str, Any]], list[str]]]] = {
    "exact-match": _fixed("exact-match"),
    "string-check": _fixed("string-check"),
    "number-check": _fixed("number-check"),
    "f1": _fixed("f1"),
    "bleu": _fixed("sentence"),
    "rouge": _fixed("rouge_1_score", "rouge_2_score", "rouge_3_score", "rouge_L_score"),
    "tool-calling": _fixed("function_name_accuracy", "function_name_and_args_accuracy"),
    "retrieval-ndcg": _cutoffs("ndcg_cut"),
    "retrieval-recall": _cutoffs("recall"),
    "retrieval-precision": _cutoffs("P"),
    "retrieval-map": _cutoffs("map_cut"),
    **{
        name: _fixed(name)
        for name in (
            "topic_adherence",
            "tool_call_accuracy",
            "agent_goal_accuracy",
            "answer_accuracy",
            "context_relevance",
            "response_groundedness",
            "context_recall",
            "context_precision",
            "context_entity_recall",
            "response_relevancy",
            "faithfulness",
            "noise_sensitivity",
        )
    },
}

BUNDLED_TYPES: Final = tuple(sorted(_OUTPUTS))
"""Metric types the operator can bundle from their plain form."""


def _bundle(metric: Mapping[str, Any], index: int) -> dict[str, Any]:
    kind = metric.get("type")
    names = _OUTPUTS.get(kind) if isinstance(kind, str) else None
    if names is None:
        raise InvalidDefinitionError(
            f"spec.evaluation.metrics[{index}]: the operator cannot bundle metric type "
            f"{kind!r} (it knows {', '.join(BUNDLED_TYPES)}); write it as a metric bundle "
            "(bundle_kind: metric-bundle, with its outputs) or reference a metric stored in "
            'Helix ("workspace/name")'
        )
    return {
        "bundle_kind": "metric-bundle",
        "bundle_format_version": "v1",
        "metric_type": kind,
        "outputs": [
            {"name": name, "value_json_schema": dict(_CONTINUOUS)} for name in names(metric)
        ],
        "payload": {"kind": "inline", "metric": dict(metric)},
    }


def bundle_metrics(metrics: list[Any]) -> list[Any]:
    """Each metric as Helix takes it: references and bundles as written, plain ones bundled."""
    sent: list[Any] = []
    for index, metric in enumerate(metrics):
        if isinstance(metric, str) or (isinstance(metric, dict) and "bundle_kind" in metric):
            sent.append(metric)
        elif isinstance(metric, dict):
            sent.append(_bundle(metric, index))
        else:
            raise InvalidDefinitionError(
                f"spec.evaluation.metrics[{index}] must be a metric object, a bundle or a "
                f'"workspace/name" reference, not {type(metric).__name__}'
            )
    return sent


_CORPUS_OUTPUTS: Final = {"bleu": ("corpus",)}
"""Scores a metric type adds only to the aggregate (computed over the whole dataset)."""


def score_names(bundles: list[Any]) -> list[str]:
    """The `metric_type.output` score names the bundles will produce (references unknown)."""
    names: list[str] = []
    for bundle in bundles:
        if isinstance(bundle, dict):
            kind = bundle.get("metric_type")
            for output in bundle.get("outputs") or []:
                if isinstance(output, dict):
                    names.append(f"{kind}.{output.get('name')}")
            names += [f"{kind}.{extra}" for extra in _CORPUS_OUTPUTS.get(str(kind), ())]
    return names

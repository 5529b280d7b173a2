"""Benchmark and EvalJob → Helix request bodies, all pure (no I/O)."""

from __future__ import annotations

import copy
import math
from typing import Any, Final

from ...constants import (
    CUSTOM_FIELD_EVALJOB_UID,
    CUSTOM_FIELD_K8S_NAME,
    CUSTOM_FIELD_K8S_NAMESPACE,
    CUSTOM_FIELD_MANAGED_BY,
    MANAGED_BY,
)
from ..errors import InvalidDefinitionError
from ..port import Owner, ScoreStats
from .metrics import bundle_metrics

__all__ = [
    "ONLINE_PARAMS",
    "job_body",
    "job_spec",
    "live_check_body",
    "scores_from",
    "target_for",
    "target_problem",
]

ONLINE_PARAMS: Final = ("max_retries", "request_timeout", "inference", "system_prompt")
"""With a model target Helix needs an online run config: `params` must hold one of these."""

_FORMATS: Final = {"nim": "nim", "openai": "openai"}
_PLACEHOLDER_OUTPUT: Final = "operator validation"


def target_problem(target: dict[str, Any]) -> str | None:
    """Why a target cannot be sent to Helix (None when it can)."""
    try:
        target_for(target)
    except InvalidDefinitionError as err:
        return err.message
    return None


def target_for(target: dict[str, Any]) -> dict[str, Any]:
    """A Helix model target: as written (`url`, `name`, ...), or from a v1 model target."""
    if "url" in target or "name" in target:
        if not isinstance(target.get("url"), str) or not isinstance(target.get("name"), str):
            raise InvalidDefinitionError("spec.target needs both url and name for NeMo Helix")
        return {k: copy.deepcopy(v) for k, v in target.items() if k != "type"}
    model = target.get("model")
    endpoint = model.get("api_endpoint") if isinstance(model, dict) else None
    if target.get("type") != "model" or not isinstance(endpoint, dict):
        raise InvalidDefinitionError(
            f"spec.target of type {target.get('type')!r} has no NeMo Helix equivalent; "
            "give a model: {url, name, format} (or type: model with model.api_endpoint)"
        )
    url, model_id = endpoint.get("url"), endpoint.get("model_id")
    if not isinstance(url, str) or not isinstance(model_id, str):
        raise InvalidDefinitionError("spec.target.model.api_endpoint needs url and model_id")
    fmt = str(endpoint.get("format") or "nim")
    if fmt not in _FORMATS:
        raise InvalidDefinitionError(
            f"spec.target.model.api_endpoint.format {fmt!r} is not one NeMo Helix accepts "
            "(nim, openai)"
        )
    return {"url": url, "name": model_id, "format": _FORMATS[fmt]}


def job_spec(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The definition a job carries: the Benchmark's evaluation with its metrics bundled."""
    metrics = evaluation.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise InvalidDefinitionError("spec.evaluation.metrics must list at least one metric")
    params = evaluation.get("params")
    if not isinstance(params, dict) or not any(key in params for key in ONLINE_PARAMS):
        raise InvalidDefinitionError(
            "spec.evaluation.params must set at least one of "
            f"{', '.join(ONLINE_PARAMS)}: NeMo Helix runs a model target only with an online "
            "run config (without one it answers 500)"
        )
    spec = copy.deepcopy(evaluation)
    spec["metrics"] = bundle_metrics(metrics)
    return spec


def job_body(
    name: str, owner: Owner, evaluation: dict[str, Any], target: dict[str, Any]
) -> dict[str, Any]:
    """The POST body: our deterministic name, our owner tags, the definition and the target."""
    return {
        "name": name,
        "description": f"EvalJob {owner.namespace}/{owner.name}",
        "custom_fields": {
            CUSTOM_FIELD_MANAGED_BY: MANAGED_BY,
            CUSTOM_FIELD_EVALJOB_UID: owner.uid,
            CUSTOM_FIELD_K8S_NAMESPACE: owner.namespace,
            CUSTOM_FIELD_K8S_NAME: owner.name,
        },
        "spec": {**job_spec(evaluation), "target": target},
    }


def live_check_body(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    """An offline `evaluate/live` request scoring the first inline row with a stand-in output.

    It makes Helix hydrate every metric and render every template against a real row, which
    is where definitions go wrong; the scores themselves are ignored. None for a fileset
    dataset (there is no row at hand).
    """
    dataset = evaluation.get("dataset")
    if not isinstance(dataset, list) or not dataset or not isinstance(dataset[0], dict):
        return None
    body: dict[str, Any] = {
        "metrics": job_spec(evaluation)["metrics"],
        "dataset": [{**dataset[0], "output": _PLACEHOLDER_OUTPUT}],
    }
    if evaluation.get("field_mapping") is not None:
        body["field_mapping"] = copy.deepcopy(evaluation["field_mapping"])
    return body


def scores_from(document: dict[str, Any]) -> tuple[dict[str, float], dict[str, ScoreStats]]:
    """`metric.output` → mean, and count / spread, from an aggregate-scores block."""
    block = document.get("aggregate_scores", document)
    entries = block.get("scores") if isinstance(block, dict) else None
    scores: dict[str, float] = {}
    stats: dict[str, ScoreStats] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        mean = entry.get("mean")
        if not isinstance(mean, int | float) or isinstance(mean, bool) or not math.isfinite(mean):
            continue
        name = entry["name"]
        scores[name] = float(mean)
        stats[name] = _stats(entry)
    return scores, stats


def _stats(entry: dict[str, Any]) -> ScoreStats:
    count = entry.get("count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else None
    std_dev = _finite(entry.get("std_dev"))
    sample = _finite(entry.get("sample_std_dev"))
    std_err = sample / math.sqrt(count) if sample is not None and count else None
    return ScoreStats(count=count, std_dev=std_dev, std_err=std_err)


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None

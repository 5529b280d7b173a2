"""Synthetic evaluation results in NeMo's exact shape.

Scores are derived from a hash of the job's *inputs* (the config's evaluation fields and the
target's fields, without ids, names, timestamps or `api_key`), never from the job id, so two
identical jobs get identical scores and tests can assert them. They measure nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from .catalog import benchmark_for, score_names_for_metric

__all__ = ["ResultPlan", "build_results", "plan_for", "samples_total", "spec_hash", "task_names"]

_ENTITY_KEYS = frozenset(
    {
        "id",
        "name",
        "namespace",
        "project",
        "description",
        "custom_fields",
        "ownership",
        "created_at",
        "updated_at",
        "schema_version",
        "type_prefix",
    }
)
_CONFIG_KEYS = ("type", "params", "tasks", "groups")
_RANGES = {"bleu": (0.0, 100.0), "llm-judge": (1.0, 10.0)}
_PAD_CHUNK = 1000

# metric name -> (metric type, score names)
MetricPlan = dict[str, tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class ResultPlan:
    """Which tasks, metrics, scores and groups a job's results hold."""

    tasks: dict[str, MetricPlan]
    groups: dict[str, tuple[tuple[str, ...], MetricPlan]]


def _strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items() if k != "api_key"}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


def spec_hash(config: dict[str, Any], target: dict[str, Any]) -> str:
    """Hash of what determines an evaluation's outcome (see module docstring)."""
    spec = {
        "config": {k: config.get(k) for k in _CONFIG_KEYS},
        "target": _strip_secrets({k: v for k, v in target.items() if k not in _ENTITY_KEYS}),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _metric_plan(metrics: dict[str, Any]) -> MetricPlan:
    plan: MetricPlan = {}
    for name, metric in metrics.items():
        kind = str(metric.get("type", name)) if isinstance(metric, dict) else name
        params = metric.get("params") or {} if isinstance(metric, dict) else {}
        plan[name] = (kind, score_names_for_metric(name, kind, params))
    return plan


def _catalog_metrics(metrics: dict[str, tuple[str, ...]]) -> MetricPlan:
    return {name: (name, scores) for name, scores in metrics.items()}


def _config_groups(
    config: dict[str, Any], tasks: list[str]
) -> dict[str, tuple[tuple[str, ...], MetricPlan]]:
    groups: dict[str, tuple[tuple[str, ...], MetricPlan]] = {}
    for name, group in (config.get("groups") or {}).items():
        members = tuple(group.get("tasks") or tasks)
        groups[name] = (members, _metric_plan(group.get("metrics") or {}))
    return groups


def plan_for(config: dict[str, Any]) -> ResultPlan:
    """One entry per task x metric of the config, or the catalogue set for its type."""
    bench = benchmark_for(str(config.get("type", "")))
    configured = config.get("tasks") or {}
    if not configured:
        tasks = {t: _catalog_metrics(m) for t, m in bench.tasks.items()}
        groups = {
            g: (members, _catalog_metrics(bench.group_metrics))
            for g, members in bench.groups.items()
        }
        return ResultPlan(tasks, groups)
    fallback: dict[str, tuple[str, ...]] = {"accuracy": ("accuracy",)}
    default = next(iter(bench.tasks.values()), fallback)
    tasks = {
        name: _metric_plan(task.get("metrics") or {}) or _catalog_metrics(default)
        for name, task in configured.items()
    }
    return ResultPlan(tasks, _config_groups(config, list(tasks)))


def task_names(config: dict[str, Any]) -> list[str]:
    """The tasks a job reports in `status_details.task_status`."""
    return list(plan_for(config).tasks)


def samples_total(config: dict[str, Any], target: dict[str, Any]) -> int:
    """Samples the job processes: limit_samples, rows, dataset limits, or the type's size."""
    params = config.get("params") or {}
    if params.get("limit_samples"):
        return int(params["limit_samples"])
    if isinstance(target.get("rows"), list) and target["rows"]:
        return len(target["rows"])
    limits = [
        t["dataset"]["limit"]
        for t in (config.get("tasks") or {}).values()
        if isinstance(t.get("dataset"), dict) and t["dataset"].get("limit")
    ]
    return int(min(limits)) if limits else benchmark_for(str(config.get("type", ""))).samples


def _unit(seed: str, *parts: str) -> float:
    digest = hashlib.sha256("|".join((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _score(value: float, kind: str, count: int) -> dict[str, Any]:
    low, high = _RANGES.get(kind, (0.0, 1.0))
    p = (value - low) / (high - low)
    variance = ((high - low) ** 2) * p * (1 - p)
    stddev = math.sqrt(variance)
    stats = {
        "count": count,
        "sum": round(value * count, 6),
        "sum_squared": round(count * (variance + value * value), 6),
        "mean": round(value, 6),
        "min": low,
        "max": high,
        "variance": round(variance, 6),
        "stddev": round(stddev, 6),
        "stderr": round(stddev / math.sqrt(count), 6) if count else 0.0,
        "nan_count": 0,
    }
    return {"value": round(value, 6), "stats": stats}


def _synth_value(seed: str, kind: str, *where: str) -> float:
    low, high = _RANGES.get(kind, (0.0, 1.0))
    span = high - low
    return low + span * (0.3 + 0.65 * _unit(seed, *where))


def _metrics_json(seed: str, owner: str, plan: MetricPlan, count: int) -> dict[str, Any]:
    return {
        metric: {
            "scores": {
                score: _score(_synth_value(seed, kind, owner, metric, score), kind, count)
                for score in scores
            }
        }
        for metric, (kind, scores) in plan.items()
    }


def _aggregate(tasks: dict[str, Any], members: tuple[str, ...]) -> dict[str, Any]:
    """Group metrics as the mean of the member tasks' scores."""
    collected: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for task in members:
        for metric, body in tasks.get(task, {}).get("metrics", {}).items():
            for score, entry in body["scores"].items():
                collected.setdefault((metric, score), []).append(entry)
    out: dict[str, Any] = {}
    for (metric, score), entries in collected.items():
        mean = sum(e["value"] for e in entries) / len(entries)
        count = sum(e["stats"]["count"] for e in entries)
        stats = {"count": count, "sum": round(mean * count, 6), "mean": round(mean, 6)}
        out.setdefault(metric, {"scores": {}})["scores"][score] = {
            "value": round(mean, 6),
            "stats": stats,
        }
    return out


def _padding(seed: str, size: int) -> list[str]:
    unit = (seed * (_PAD_CHUNK // len(seed) + 1))[:_PAD_CHUNK]
    return [unit] * max(1, math.ceil(size / (_PAD_CHUNK + 3)))


def _scores(seed: str, plan: ResultPlan, count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """`tasks` and `groups`: hashed scores, or a group's mean of its tasks when it names none."""
    tasks = {
        name: {"metrics": _metrics_json(seed, name, mp, count)} for name, mp in plan.tasks.items()
    }
    groups = {}
    for name, (members, mp) in plan.groups.items():
        metrics = (
            _metrics_json(seed, "group:" + name, mp, count) if mp else _aggregate(tasks, members)
        )
        groups[name] = {"metrics": metrics}
    return tasks, groups


def build_results(
    job: dict[str, Any], result_id: str, created_at: str, padding: int = 0
) -> dict[str, Any]:
    """The EvaluationResult of a completed job (`job` is its JSON, with embedded objects)."""
    config, target = job["config"], job["target"]
    seed = spec_hash(config, target)
    tasks, groups = _scores(seed, plan_for(config), samples_total(config, target))
    namespace = job.get("namespace")
    result: dict[str, Any] = {
        "id": result_id,
        "job": job["id"],
        "namespace": namespace,
        "created_at": created_at,
        "updated_at": created_at,
        "files_url": job.get("output_files_url")
        or f"nds://{namespace}/evaluation-results/{job['id']}",
        "tasks": tasks,
        "groups": groups,
        "custom_fields": {},
    }
    if padding > 0:
        _attach_padding(result, _padding(seed, padding))
    return result


def _attach_padding(result: dict[str, Any], chunks: list[str]) -> None:
    tasks = result["tasks"]
    if tasks:
        first = next(iter(tasks.values()))
        first["data"] = {"emulator_padding": chunks}
    else:
        result["custom_fields"] = {"emulator_padding": chunks}

"""Benchmark → what the evaluator should hold or check, and the status after a sync attempt."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..constants import Cond, Reason
from ..evaluator.port import BenchmarkDefinition, Owner
from ..models import Benchmark, BenchmarkStatus
from .conditions import CondSpec, apply_conditions
from .failures import Failure, FailureKind

__all__ = [
    "MAX_CONFIG_DEPTH",
    "benchmark_status",
    "config_hash",
    "config_name_for",
    "config_problem",
    "definition_for",
]

MAX_CONFIG_DEPTH = 256
MAX_CONFIG_NAME = 200


def config_name_for(k8s_namespace: str, k8s_name: str) -> str:
    """Deterministic v1 config name, unique across Kubernetes namespaces.

    Joining with a dash alone collides (`a-b`/`c` vs `a`/`b-c`), so a short hash of the
    unambiguous `namespace/name` pair is appended.
    """
    digest = hashlib.sha256(f"{k8s_namespace}/{k8s_name}".encode()).hexdigest()[:8]
    stem = f"{k8s_namespace}-{k8s_name}"[: MAX_CONFIG_NAME - 9]
    return f"{stem}-{digest}"


def config_problem(spec: Mapping[str, Any]) -> str | None:
    """What makes the spec unusable before the evaluator is even asked (the CRD cannot bound
    nesting). Takes the raw spec: serialising a hostile one through the model would fail."""
    for field in ("config", "evaluation"):
        depth = _depth(spec.get(field))
        if depth > MAX_CONFIG_DEPTH:
            return (
                f"spec.{field} is nested {depth} levels deep; at most {MAX_CONFIG_DEPTH} "
                "are accepted"
            )
    return None


def _depth(value: Any) -> int:
    """Nesting depth, iteratively, so a hostile object cannot exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_CONFIG_DEPTH:
            break
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else []
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def definition_for(
    benchmark: Benchmark, default_namespace: str, *, with_body: bool = True
) -> BenchmarkDefinition:
    """What the spec asks of the evaluator, with its owner for NeMo's `custom_fields`.

    `with_body=False` leaves the body out, for a spec that `config_problem` refused.
    """
    meta = benchmark.metadata
    return BenchmarkDefinition(
        api=benchmark.spec.api,
        namespace=benchmark.spec.evaluator_namespace or default_namespace,
        name=config_name_for(meta.namespace, meta.name),
        body=benchmark.spec.definition() if with_body else {},
        owner=Owner(uid=meta.uid, namespace=meta.namespace, name=meta.name),
    )


def config_hash(definition: Mapping[str, Any]) -> str:
    """A short content hash of the definition, so runs can be compared honestly later."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def benchmark_status(
    benchmark: Benchmark,
    definition: BenchmarkDefinition,
    now: str,
    failure: Failure | None = None,
    score_names: list[str] | None = None,
) -> BenchmarkStatus:
    """The status after a sync attempt: Ready on success, otherwise why not."""
    generation = benchmark.metadata.generation
    status = benchmark.status.model_copy(deep=True)
    status.evaluator_api = definition.api
    status.evaluator_namespace = definition.namespace
    status.config_name = definition.ref if definition.api == "v1" else None
    status.conditions = apply_conditions(
        status.conditions, _condition_specs(failure), generation, now
    )
    if failure is None or failure.kind in (FailureKind.REJECTED, FailureKind.STALLED):
        status.observed_generation = generation
    if failure is None:
        status.config_hash = config_hash(definition.body)
        status.score_names = score_names or None
    return status


def _condition_specs(failure: Failure | None) -> list[CondSpec]:
    if failure is None:
        return [
            CondSpec(Cond.READY, "True", Reason.CONFIG_SYNCED, "The evaluator accepted the spec"),
            CondSpec(Cond.RECONCILING, "False", Reason.CONFIG_SYNCED),
            CondSpec(Cond.STALLED, "False", Reason.CONFIG_SYNCED),
        ]
    if failure.kind in (FailureKind.REJECTED, FailureKind.STALLED):
        return [
            CondSpec(Cond.READY, "False", failure.reason, failure.message),
            CondSpec(Cond.RECONCILING, "False", failure.reason),
            CondSpec(Cond.STALLED, "True", failure.reason, failure.message),
        ]
    return [
        CondSpec(Cond.READY, "False", failure.reason, failure.message),
        CondSpec(Cond.RECONCILING, "True", failure.reason, failure.message),
        CondSpec(Cond.STALLED, "False", failure.reason),
    ]

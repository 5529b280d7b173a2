"""Benchmark → NeMo evaluation config: names, desired body, sync and the resulting status."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..constants import (
    CUSTOM_FIELD_K8S_NAME,
    CUSTOM_FIELD_K8S_NAMESPACE,
    CUSTOM_FIELD_MANAGED_BY,
    MANAGED_BY,
    Cond,
    Reason,
)
from ..evaluator.errors import ConflictError, NotFoundError
from ..evaluator.models import EvaluationConfig
from ..models import Benchmark, BenchmarkStatus
from .conditions import CondSpec, apply_conditions
from .failures import Failure, FailureKind
from .ports import EvaluatorPort

__all__ = [
    "ConfigSync",
    "DesiredConfig",
    "benchmark_status",
    "config_name_for",
    "config_problem",
    "delete_config",
    "desired_config",
    "differs",
    "ensure_config",
]

MAX_CONFIG_NAME = 200
MAX_CONFIG_DEPTH = 256
_COMPARED_FIELDS = ("type", "params", "tasks", "groups")


class ConfigSync(StrEnum):
    """What ensuring the config did."""

    CREATED = "Created"
    UPDATED = "Updated"
    UNCHANGED = "Unchanged"


@dataclass(frozen=True)
class DesiredConfig:
    """The NeMo config a Benchmark asks for."""

    namespace: str
    name: str
    body: dict[str, Any]

    @property
    def ref(self) -> str:
        """`namespace/name`, the form NeMo job bodies and our status use."""
        return f"{self.namespace}/{self.name}"


def config_name_for(k8s_namespace: str, k8s_name: str) -> str:
    """Deterministic NeMo config name, unique across Kubernetes namespaces.

    Joining with a dash alone collides (`a-b`/`c` vs `a`/`b-c`), so a short hash of the
    unambiguous `namespace/name` pair is appended.
    """
    digest = hashlib.sha256(f"{k8s_namespace}/{k8s_name}".encode()).hexdigest()[:8]
    stem = f"{k8s_namespace}-{k8s_name}"[: MAX_CONFIG_NAME - 9]
    return f"{stem}-{digest}"


def config_problem(config: Mapping[str, Any]) -> str | None:
    """What makes spec.config unusable before NeMo is even asked (the CRD cannot bound nesting).

    Takes the raw object: serialising a hostile one through the model would itself fail.
    """
    depth = _depth(dict(config))
    if depth > MAX_CONFIG_DEPTH:
        return f"spec.config is nested {depth} levels deep; at most {MAX_CONFIG_DEPTH} are accepted"
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


def desired_config(benchmark: Benchmark, default_namespace: str) -> DesiredConfig:
    """Build the config body from the spec, tagged with its Kubernetes owner."""
    meta = benchmark.metadata
    namespace = benchmark.spec.evaluator_namespace or default_namespace
    name = config_name_for(meta.namespace, meta.name)
    body: dict[str, Any] = {
        **benchmark.spec.config.to_nemo(),
        "name": name,
        "namespace": namespace,
        "custom_fields": {
            CUSTOM_FIELD_MANAGED_BY: MANAGED_BY,
            CUSTOM_FIELD_K8S_NAMESPACE: meta.namespace,
            CUSTOM_FIELD_K8S_NAME: meta.name,
        },
    }
    return DesiredConfig(namespace=namespace, name=name, body=body)


def differs(desired: DesiredConfig, observed: EvaluationConfig) -> bool:
    """True when NeMo's config does not match the spec (absent, null and empty are the same)."""
    seen = observed.model_dump()
    return any(
        _normal(desired.body.get(field)) != _normal(seen.get(field)) for field in _COMPARED_FIELDS
    )


def _normal(value: Any) -> Any:
    """Drop nulls and empty containers at every level: NeMo echoes unset fields as null."""
    if isinstance(value, dict):
        cleaned = {k: _normal(v) for k, v in value.items()}
        value = {k: v for k, v in cleaned.items() if v is not None}
    elif isinstance(value, list):
        value = [_normal(v) for v in value]
    return value if value not in (None, {}, []) else None


def _patch_body(desired: DesiredConfig) -> dict[str, Any]:
    """Every compared field, with explicit nulls so removed fields are removed in NeMo too."""
    body = {field: desired.body.get(field) for field in _COMPARED_FIELDS}
    body["custom_fields"] = desired.body["custom_fields"]
    return body


async def ensure_config(client: EvaluatorPort, desired: DesiredConfig) -> ConfigSync:
    """Make NeMo hold exactly the desired config: create, adopt an identical one, or patch."""
    try:
        observed = await client.get_config(desired.namespace, desired.name)
    except NotFoundError:
        try:
            await client.create_config(desired.body)
            return ConfigSync.CREATED
        except ConflictError:  # created concurrently or by an earlier run: compare below
            observed = await client.get_config(desired.namespace, desired.name)
    if not differs(desired, observed):
        return ConfigSync.UNCHANGED
    await client.update_config(desired.namespace, desired.name, _patch_body(desired))
    return ConfigSync.UPDATED


async def delete_config(client: EvaluatorPort, namespace: str, name: str) -> None:
    """Delete the config; one that is already gone counts as deleted."""
    try:
        await client.delete_config(namespace, name)
    except NotFoundError:
        return


def benchmark_status(
    benchmark: Benchmark, config_ref: str, now: str, failure: Failure | None = None
) -> BenchmarkStatus:
    """The status after a sync attempt: Ready on success, otherwise why not."""
    generation = benchmark.metadata.generation
    status = benchmark.status.model_copy(deep=True)
    status.config_name = config_ref
    status.conditions = apply_conditions(
        status.conditions, _condition_specs(failure), generation, now
    )
    if failure is None or failure.kind is FailureKind.REJECTED:
        status.observed_generation = generation
    return status


def _condition_specs(failure: Failure | None) -> list[CondSpec]:
    if failure is None:
        return [
            CondSpec(Cond.READY, "True", Reason.CONFIG_SYNCED, "NeMo config matches the spec"),
            CondSpec(Cond.RECONCILING, "False", Reason.CONFIG_SYNCED),
            CondSpec(Cond.STALLED, "False", Reason.CONFIG_SYNCED),
        ]
    if failure.kind is FailureKind.REJECTED:
        return [
            CondSpec(Cond.READY, "False", Reason.INVALID_CONFIG, failure.message),
            CondSpec(Cond.RECONCILING, "False", Reason.INVALID_CONFIG),
            CondSpec(Cond.STALLED, "True", Reason.INVALID_CONFIG, failure.message),
        ]
    return [
        CondSpec(Cond.READY, "False", failure.reason, failure.message),
        CondSpec(Cond.RECONCILING, "True", failure.reason, failure.message),
        CondSpec(Cond.STALLED, "False", failure.reason),
    ]

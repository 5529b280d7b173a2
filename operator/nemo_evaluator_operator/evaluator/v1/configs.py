"""Keep a v1 evaluation config equal to its Benchmark: name, body, compare, create/adopt/patch."""

from __future__ import annotations

from typing import Any

from ...constants import (
    CUSTOM_FIELD_BENCHMARK_UID,
    CUSTOM_FIELD_K8S_NAME,
    CUSTOM_FIELD_K8S_NAMESPACE,
    CUSTOM_FIELD_MANAGED_BY,
    MANAGED_BY,
)
from ..errors import ConflictError, ForeignObjectError, NotFoundError
from ..port import BenchmarkDefinition, BenchmarkSync, Owner
from .client import V1Client
from .models import EvaluationConfig

__all__ = [
    "COMPARED_FIELDS",
    "check_owner",
    "config_body",
    "delete_config",
    "differs",
    "ensure_config",
]

COMPARED_FIELDS = ("type", "params", "tasks", "groups")


def _owner_fields(owner: Owner) -> dict[str, str]:
    return {
        CUSTOM_FIELD_MANAGED_BY: MANAGED_BY,
        CUSTOM_FIELD_K8S_NAMESPACE: owner.namespace,
        CUSTOM_FIELD_K8S_NAME: owner.name,
        CUSTOM_FIELD_BENCHMARK_UID: owner.uid,
    }


def config_body(definition: BenchmarkDefinition) -> dict[str, Any]:
    """The config as NeMo stores it: the spec as written, named and tagged with its owner."""
    return {
        **definition.body,
        "name": definition.name,
        "namespace": definition.namespace,
        "custom_fields": _owner_fields(definition.owner),
    }


def differs(body: dict[str, Any], observed: EvaluationConfig) -> bool:
    """True when NeMo's config does not match (absent, null and empty are the same)."""
    seen = observed.model_dump()
    return any(_normal(body.get(name)) != _normal(seen.get(name)) for name in COMPARED_FIELDS)


def _normal(value: Any) -> Any:
    """Drop nulls and empty containers at every level: NeMo echoes unset fields as null."""
    if isinstance(value, dict):
        cleaned = {k: _normal(v) for k, v in value.items()}
        value = {k: v for k, v in cleaned.items() if v is not None}
    elif isinstance(value, list):
        value = [_normal(v) for v in value]
    return value if value not in (None, {}, []) else None


def _patch_body(body: dict[str, Any]) -> dict[str, Any]:
    """Every compared field, with explicit nulls so removed fields are removed in NeMo too."""
    patch = {name: body.get(name) for name in COMPARED_FIELDS}
    patch["custom_fields"] = body["custom_fields"]
    return patch


def check_owner(observed: EvaluationConfig, definition: BenchmarkDefinition) -> bool:
    """Whether the config is this Benchmark's to adopt, edit or delete.

    A config with our name but another owner (another cluster sharing this NeMo, or a person)
    is not; an untagged one from before owners were recorded is.
    """
    fields = observed.custom_fields
    uid = fields.get(CUSTOM_FIELD_BENCHMARK_UID)
    ours = fields.get(CUSTOM_FIELD_MANAGED_BY) == MANAGED_BY
    same = (
        fields.get(CUSTOM_FIELD_K8S_NAMESPACE) == definition.owner.namespace
        and fields.get(CUSTOM_FIELD_K8S_NAME) == definition.owner.name
    )
    return ours and same and uid in (None, definition.owner.uid)


def _check_owner(observed: EvaluationConfig, definition: BenchmarkDefinition) -> None:
    """Raise `ForeignObjectError` unless the config is this Benchmark's."""
    if check_owner(observed, definition):
        return
    uid = observed.custom_fields.get(CUSTOM_FIELD_BENCHMARK_UID)
    ours = observed.custom_fields.get(CUSTOM_FIELD_MANAGED_BY) == MANAGED_BY
    who = f"Benchmark UID {uid}" if ours and uid else "something other than this Benchmark"
    raise ForeignObjectError(
        f"NeMo config {definition.ref} exists but belongs to {who}; it is left unchanged"
    )


async def ensure_config(client: V1Client, definition: BenchmarkDefinition) -> BenchmarkSync:
    """Make NeMo hold exactly the desired config: create, adopt an identical one, or patch."""
    body = config_body(definition)
    try:
        observed = await client.get_config(definition.namespace, definition.name)
    except NotFoundError:
        try:
            await client.create_config(body)
            return BenchmarkSync.CREATED
        except ConflictError:  # created concurrently or by an earlier run: compare below
            observed = await client.get_config(definition.namespace, definition.name)
    _check_owner(observed, definition)
    if not differs(body, observed) and observed.custom_fields == body["custom_fields"]:
        return BenchmarkSync.UNCHANGED
    await client.update_config(definition.namespace, definition.name, _patch_body(body))
    return BenchmarkSync.UPDATED


async def delete_config(client: V1Client, definition: BenchmarkDefinition) -> None:
    """Delete our config; one already gone counts as deleted, a foreign one is kept."""
    try:
        observed = await client.get_config(definition.namespace, definition.name)
        _check_owner(observed, definition)
        await client.delete_config(definition.namespace, definition.name)
    except NotFoundError:
        return

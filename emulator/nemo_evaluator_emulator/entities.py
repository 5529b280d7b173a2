"""Create, patch and delete configs and targets (shared by both route modules)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from .clock import iso
from .core import Emulator
from .errors import body_errors
from .ids import new_id
from .store import EntityTable

__all__ = ["create_entity", "delete_entity", "delete_response", "patch_entity"]

_SERVER_FIELDS = ("id", "created_at", "updated_at")


def _stamp(entity: dict[str, Any], prefix: str, now: float) -> dict[str, Any]:
    entity_id = new_id(prefix)
    entity["namespace"] = entity.get("namespace") or "default"
    entity["name"] = entity.get("name") or entity_id
    entity["custom_fields"] = entity.get("custom_fields") or {}
    stamp = iso(now)
    return {"id": entity_id, **entity, "created_at": stamp, "updated_at": stamp}


def create_entity(
    emu: Emulator, table: EntityTable, prefix: str, body: BaseModel
) -> dict[str, Any]:
    """Store a new entity with server fields filled in; 409 when the name is taken."""
    entity = _stamp(body.model_dump(mode="json"), prefix, emu.now())
    return table.add(entity)


def patch_entity(
    emu: Emulator,
    table: EntityTable,
    key: tuple[str, str],
    changes: BaseModel,
    model: type[BaseModel],
) -> dict[str, Any]:
    """Merge the given top-level fields, re-validate the whole entity, bump `updated_at`."""
    current = table.get(*key)
    merged = {**current, **changes.model_dump(mode="json", exclude_unset=True)}
    try:
        validated = model.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        raise body_errors(exc) from None
    updated = {**validated, **{k: current[k] for k in _SERVER_FIELDS}}
    updated["namespace"] = updated.get("namespace") or current["namespace"]
    updated["name"] = updated.get("name") or current["name"]
    updated["custom_fields"] = updated.get("custom_fields") or {}
    updated["updated_at"] = iso(emu.now())
    return table.replace(*key, {"id": updated.pop("id"), **updated})


def delete_response(entity_id: str, now: float) -> dict[str, Any]:
    """NeMo's DeleteResponse body."""
    return {"id": entity_id, "deleted_at": iso(now), "message": "Resource deleted successfully."}


def delete_entity(emu: Emulator, table: EntityTable, key: tuple[str, str]) -> dict[str, Any]:
    """Delete and answer with a DeleteResponse; jobs keep their embedded copies."""
    entity = table.remove(*key)
    return delete_response(str(entity["id"]), emu.now())

"""`/v1/evaluation/targets`: create, list, get, PATCH, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .core import EmulatorDep
from .entities import create_entity, delete_entity, patch_entity
from .ids import TARGET_PREFIX
from .listing import page_of, parse_list_query
from .schemas import TargetCreate, TargetUpdate

__all__ = ["router"]

router = APIRouter(prefix="/v1/evaluation/targets", tags=["targets"])


@router.post("", response_model=None)
async def create_target(body: TargetCreate, emu: EmulatorDep) -> dict[str, Any]:
    return create_entity(emu, emu.store.targets, TARGET_PREFIX, body)


@router.get("", response_model=None)
async def list_targets(request: Request, emu: EmulatorDep) -> dict[str, Any]:
    s = emu.settings
    query = parse_list_query(request.query_params, s.default_page_size, s.max_page_size)
    return page_of(list(emu.store.targets), query)


@router.get("/{namespace}/{target_name}", response_model=None)
async def get_target(namespace: str, target_name: str, emu: EmulatorDep) -> dict[str, Any]:
    return emu.store.targets.get(namespace, target_name)


@router.patch("/{namespace}/{target_name}", response_model=None)
async def update_target(
    namespace: str, target_name: str, body: TargetUpdate, emu: EmulatorDep
) -> dict[str, Any]:
    return patch_entity(emu, emu.store.targets, (namespace, target_name), body, TargetCreate)


@router.delete("/{namespace}/{target_name}", response_model=None)
async def delete_target(namespace: str, target_name: str, emu: EmulatorDep) -> dict[str, Any]:
    return delete_entity(emu, emu.store.targets, (namespace, target_name))

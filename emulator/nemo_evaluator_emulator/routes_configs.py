"""`/v1/evaluation/configs`: create, list, get, PATCH, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .core import EmulatorDep
from .entities import create_entity, delete_entity, patch_entity
from .ids import CONFIG_PREFIX
from .jobs import refuse_academic
from .listing import page_of, parse_list_query
from .schemas import ConfigCreate, ConfigUpdate

__all__ = ["router"]

router = APIRouter(prefix="/v1/evaluation/configs", tags=["configs"])


@router.post("", response_model=None)
async def create_config(body: ConfigCreate, emu: EmulatorDep) -> dict[str, Any]:
    refuse_academic(emu, body.type)
    return create_entity(emu, emu.store.configs, CONFIG_PREFIX, body)


@router.get("", response_model=None)
async def list_configs(request: Request, emu: EmulatorDep) -> dict[str, Any]:
    s = emu.settings
    query = parse_list_query(request.query_params, s.default_page_size, s.max_page_size)
    return page_of(list(emu.store.configs), query)


@router.get("/{namespace}/{config_name}", response_model=None)
async def get_config(namespace: str, config_name: str, emu: EmulatorDep) -> dict[str, Any]:
    return emu.store.configs.get(namespace, config_name)


@router.patch("/{namespace}/{config_name}", response_model=None)
async def update_config(
    namespace: str, config_name: str, body: ConfigUpdate, emu: EmulatorDep
) -> dict[str, Any]:
    refuse_academic(emu, body.type)
    return patch_entity(emu, emu.store.configs, (namespace, config_name), body, ConfigCreate)


@router.delete("/{namespace}/{config_name}", response_model=None)
async def delete_config(namespace: str, config_name: str, emu: EmulatorDep) -> dict[str, Any]:
    return delete_entity(emu, emu.store.configs, (namespace, config_name))

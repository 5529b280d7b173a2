"""`/v1/evaluation/results`: result entities, both those jobs produced and those posted directly.

A completed job's result is computed on demand; PATCHing it stores a copy that then wins.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request

from .clock import iso
from .core import Emulator, EmulatorDep
from .entities import delete_response
from .errors import ApiError
from .ids import RESULT_PREFIX, new_id
from .jobs import job_result, observe_job
from .listing import page_of, parse_list_query
from .schemas import ResultCreate, ResultUpdate
from .store import JobRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1/evaluation/results", tags=["results"])


def _job_results(emu: Emulator) -> list[tuple[JobRecord, dict[str, Any]]]:
    return [
        (job, job_result(emu, job))
        for job in emu.store.jobs.values()
        if not job.result_deleted and observe_job(emu, job).status == "completed"
    ]


def _find(emu: Emulator, result_id: str) -> tuple[JobRecord | None, dict[str, Any]]:
    for job in emu.store.jobs.values():
        if (
            job.result_id == result_id
            and not job.result_deleted
            and observe_job(emu, job).status == "completed"
        ):
            return job, job_result(emu, job)
    stored = emu.store.results.get(result_id)
    if stored is None:
        raise ApiError(404, f"Evaluation result {result_id} not found")
    return None, stored


@router.post("", response_model=None)
async def create_result(body: ResultCreate, emu: EmulatorDep) -> dict[str, Any]:
    stamp = iso(emu.now())
    entity = {
        "id": new_id(RESULT_PREFIX),
        **body.model_dump(mode="json"),
        "created_at": stamp,
        "updated_at": stamp,
    }
    entity["namespace"] = entity.get("namespace") or "default"
    entity["custom_fields"] = entity.get("custom_fields") or {}
    emu.store.results[entity["id"]] = entity
    emu.store.changed()
    return entity


@router.get("", response_model=None)
async def list_results(request: Request, emu: EmulatorDep) -> dict[str, Any]:
    s = emu.settings
    query = parse_list_query(request.query_params, s.default_page_size, s.max_page_size)
    produced = {job.result_id: result for job, result in _job_results(emu)}
    items = list({**emu.store.results, **produced}.values())
    renamed = {("job" if k == "job_id" else k): v for k, v in query.filter.items()}
    page = page_of(items, dataclasses.replace(query, filter=renamed))
    return {**page, "filter": query.filter}


@router.get("/{result_id}", response_model=None)
async def get_result(result_id: str, emu: EmulatorDep) -> dict[str, Any]:
    return _find(emu, result_id)[1]


@router.patch("/{result_id}", response_model=None)
async def update_result(result_id: str, body: ResultUpdate, emu: EmulatorDep) -> dict[str, Any]:
    _, current = _find(emu, result_id)
    updated = {
        **current,
        **body.model_dump(mode="json", exclude_unset=True),
        "updated_at": iso(emu.now()),
    }
    emu.store.results[result_id] = updated
    emu.store.changed()
    return updated


@router.delete("/{result_id}", response_model=None)
async def delete_result(result_id: str, emu: EmulatorDep) -> dict[str, Any]:
    job, _ = _find(emu, result_id)
    emu.store.results.pop(result_id, None)
    if job is not None:
        job.result_deleted = True
    emu.store.changed()
    return delete_response(result_id, emu.now())

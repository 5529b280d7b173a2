"""`/v1/evaluation/jobs`: create, list, get, delete, cancel, status, results, downloads."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from .archives import log_lines, logs_zip, results_zip
from .core import EmulatorDep
from .entities import delete_response
from .jobs import cancel_job, create_job, delete_job, job_result, job_view
from .listing import page_of, parse_list_query
from .schemas import JobCreate

__all__ = ["router"]

router = APIRouter(prefix="/v1/evaluation/jobs", tags=["jobs"])


def _zip_response(data: bytes, filename: str) -> Response:
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type="application/zip", headers=headers)


@router.post("", response_model=None)
async def create(body: JobCreate, emu: EmulatorDep) -> dict[str, Any]:
    return create_job(emu, body)


@router.get("", response_model=None)
async def list_jobs(request: Request, emu: EmulatorDep) -> dict[str, Any]:
    s = emu.settings
    query = parse_list_query(request.query_params, s.default_page_size, s.max_page_size)
    return page_of([job_view(emu, j) for j in emu.store.jobs.values()], query)


@router.get("/{job_id}", response_model=None)
async def get_job(job_id: str, emu: EmulatorDep) -> dict[str, Any]:
    return job_view(emu, emu.store.job(job_id))


@router.delete("/{job_id}", status_code=204, response_model=None)
async def remove(job_id: str, emu: EmulatorDep) -> Response:
    delete_job(emu, job_id)
    if emu.settings.job_delete_status == 200:
        body = delete_response(job_id, emu.now())
        return Response(content=json.dumps(body), status_code=200, media_type="application/json")
    return Response(status_code=204)


@router.post("/{job_id}/cancel", response_model=None)
async def cancel(
    job_id: str, emu: EmulatorDep, body: Annotated[dict[str, Any] | None, Body()] = None
) -> dict[str, Any]:
    return cancel_job(emu, job_id)


@router.get("/{job_id}/status", response_model=None)
async def status(job_id: str, emu: EmulatorDep) -> dict[str, Any]:
    details: dict[str, Any] = job_view(emu, emu.store.job(job_id))["status_details"]
    return details


@router.get("/{job_id}/results", response_model=None)
async def results(job_id: str, emu: EmulatorDep) -> dict[str, Any]:
    return job_result(emu, emu.store.job(job_id))


@router.get("/{job_id}/download-results", response_class=Response, response_model=None)
async def download_results(job_id: str, emu: EmulatorDep) -> Response:
    record = emu.store.job(job_id)
    result = job_result(emu, record)
    logs = log_lines(job_id, record.timeline, emu.now())
    return _zip_response(results_zip(job_view(emu, record), result, logs), f"{job_id}-results.zip")


@router.get("/{job_id}/logs", response_class=Response, response_model=None)
async def logs(job_id: str, emu: EmulatorDep) -> Response:
    record = emu.store.job(job_id)
    return _zip_response(logs_zip(job_id, record.timeline, emu.now()), f"{job_id}-logs.zip")

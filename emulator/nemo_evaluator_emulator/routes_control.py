"""The test-control API under `/_emulator` (documented in emulator/README.md).

It is never faulted nor recorded, so a test can always reach it, even during an outage.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError

from .core import Emulator, EmulatorDep, PlannedFailure
from .errors import ApiError, body_errors
from .jobs import force_job, job_view
from .schemas import (
    AdvanceRequest,
    FailNextRequest,
    FaultCreate,
    ForceRequest,
    JobControl,
    OutageRequest,
    ResetRequest,
)
from .settings import EmulatorSettings

__all__ = ["router"]

router = APIRouter(prefix="/_emulator", tags=["control"])


def _overview(emu: Emulator) -> dict[str, Any]:
    return {
        "settings": emu.settings.model_dump(),
        "clock": emu.clock.describe(),
        "fail_queue": [vars(f) for f in emu.fail_queue],
        "faults": [r.to_json() for r in emu.faults.rules],
        "outage": emu.faults.outage.to_json() if emu.faults.outage else None,
        "counts": {
            "configs": len(emu.store.configs.dump()),
            "targets": len(emu.store.targets.dump()),
            "jobs": len(emu.store.jobs),
            "results": len(emu.store.results),
        },
    }


@router.get("/state", response_model=None)
async def state(emu: EmulatorDep) -> dict[str, Any]:
    return _overview(emu)


@router.post("/reset", response_model=None)
async def reset(
    emu: EmulatorDep, body: Annotated[ResetRequest | None, Body()] = None
) -> dict[str, Any]:
    emu.reset(keep_data=bool(body and body.keep_data))
    return _overview(emu)


@router.get("/settings", response_model=None)
async def get_settings(emu: EmulatorDep) -> dict[str, Any]:
    return emu.settings.model_dump()


@router.patch("/settings", response_model=None)
async def patch_settings(
    emu: EmulatorDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    current = emu.settings.model_dump()
    if isinstance(body.get("phase_seconds"), dict):
        body = {**body, "phase_seconds": {**current["phase_seconds"], **body["phase_seconds"]}}
    try:
        emu.settings = EmulatorSettings.model_validate({**current, **body})
    except ValidationError as exc:
        raise body_errors(exc) from None
    return emu.settings.model_dump()


@router.post("/fail-next", response_model=None)
async def fail_next(body: FailNextRequest, emu: EmulatorDep) -> dict[str, Any]:
    emu.fail_queue.extend([PlannedFailure(body.message, body.phase)] * body.count)
    return {"fail_queue": [vars(f) for f in emu.fail_queue]}


@router.delete("/fail-next", response_model=None)
async def clear_fail_next(emu: EmulatorDep) -> dict[str, Any]:
    emu.fail_queue.clear()
    return {"fail_queue": []}


@router.post("/faults", status_code=201, response_model=None)
async def add_fault(body: FaultCreate, emu: EmulatorDep) -> dict[str, Any]:
    return emu.faults.add(body).to_json()


@router.get("/faults", response_model=None)
async def list_faults(emu: EmulatorDep) -> dict[str, Any]:
    return {"data": [r.to_json() for r in emu.faults.rules]}


@router.delete("/faults", response_model=None)
async def clear_faults(emu: EmulatorDep) -> dict[str, Any]:
    emu.faults.rules.clear()
    return {"data": []}


@router.delete("/faults/{fault_id}", response_model=None)
async def remove_fault(fault_id: str, emu: EmulatorDep) -> dict[str, Any]:
    if not emu.faults.remove(fault_id):
        raise ApiError(404, f"Fault {fault_id} not found")
    return {"data": [r.to_json() for r in emu.faults.rules]}


@router.post("/outage", response_model=None)
async def start_outage(body: OutageRequest, emu: EmulatorDep) -> dict[str, Any]:
    emu.faults.start_outage(body.seconds, body.mode, body.status)
    return {"outage": emu.faults.outage.to_json() if emu.faults.outage else None}


@router.delete("/outage", response_model=None)
async def end_outage(emu: EmulatorDep) -> dict[str, Any]:
    emu.faults.outage = None
    return {"outage": None}


@router.get("/requests", response_model=None)
async def list_requests(
    emu: EmulatorDep,
    method: Annotated[str | None, Query()] = None,
    path_prefix: Annotated[str | None, Query()] = None,
    since: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return {"data": emu.requests.query(method, path_prefix, since)}


@router.delete("/requests", response_model=None)
async def clear_requests(emu: EmulatorDep) -> dict[str, Any]:
    emu.requests.clear()
    return {"data": []}


@router.get("/clock", response_model=None)
async def clock(emu: EmulatorDep) -> dict[str, Any]:
    return emu.clock.describe()


@router.post("/clock/freeze", response_model=None)
async def freeze(emu: EmulatorDep) -> dict[str, Any]:
    emu.clock.freeze()
    return emu.clock.describe()


@router.post("/clock/unfreeze", response_model=None)
async def unfreeze(emu: EmulatorDep) -> dict[str, Any]:
    emu.clock.unfreeze()
    return emu.clock.describe()


@router.post("/clock/advance", response_model=None)
async def advance(body: AdvanceRequest, emu: EmulatorDep) -> dict[str, Any]:
    emu.clock.advance(body.seconds)
    return emu.clock.describe()


def _job_debug(emu: Emulator, job_id: str) -> dict[str, Any]:
    record = emu.store.job(job_id)
    return {
        "job": job_view(emu, record),
        "timeline": record.timeline.model_dump(),
        "samples_total": record.samples_total,
        "padding_bytes": record.padding_bytes,
    }


@router.get("/jobs/{job_id}", response_model=None)
async def job_debug(job_id: str, emu: EmulatorDep) -> dict[str, Any]:
    return _job_debug(emu, job_id)


@router.patch("/jobs/{job_id}", response_model=None)
async def job_control(job_id: str, body: JobControl, emu: EmulatorDep) -> dict[str, Any]:
    record = emu.store.job(job_id)
    if body.phase_seconds is not None:
        try:
            record.timeline.phases = record.timeline.phases.merged(body.phase_seconds)
        except ValidationError as exc:
            raise body_errors(exc, "phase_seconds") from None
    if body.results_padding_bytes is not None:
        record.padding_bytes = body.results_padding_bytes
    emu.store.changed()
    return _job_debug(emu, job_id)


@router.post("/jobs/{job_id}/force", response_model=None)
async def force(job_id: str, body: ForceRequest, emu: EmulatorDep) -> dict[str, Any]:
    return force_job(emu, job_id, body.status, body.message)

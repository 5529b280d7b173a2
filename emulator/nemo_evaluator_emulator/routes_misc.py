"""`/health` and `POST /v1/evaluation/live` (synchronous, nothing stored)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .clock import iso
from .core import EmulatorDep
from .ids import RESULT_PREFIX, new_id
from .jobs import resolve_reference
from .lifecycle import Observation, status_details
from .results import build_results, samples_total, task_names
from .schemas import JobCreate

__all__ = ["router"]

router = APIRouter()


@router.get("/health", response_model=None)
async def health() -> dict[str, str]:
    return {"status": "healthy"}


@router.post("/v1/evaluation/live", tags=["live"], response_model=None)
async def live(body: JobCreate, emu: EmulatorDep) -> dict[str, Any]:
    config = resolve_reference(emu, "config", emu.store.configs, body.config)
    target = resolve_reference(emu, "target", emu.store.targets, body.target)
    now = emu.now()
    job = {
        "id": "live",
        "namespace": body.namespace or "default",
        "config": config,
        "target": target,
    }
    total = samples_total(config, target)
    done = Observation("completed", now, 1.0, "Job completed successfully")
    limit = (config.get("params") or {}).get("limit_samples")
    return {
        "status": "completed",
        "status_details": status_details(done, task_names(config), total, limit),
        "result": build_results(job, new_id(RESULT_PREFIX), iso(now)),
        "logs": {},
    }

"""Batched v1 reads: many jobs per request, so polling costs pages, not jobs.

Listing the jobs that are still active (one paged list per active status, filtered by our
`managed_by` tag) covers every running job at once; a job missing from the lists (it just
finished) is read directly, so correctness never depends on the lists. Drift checks list our
configs once, instead of one read per Benchmark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from ...constants import CUSTOM_FIELD_MANAGED_BY, MANAGED_BY
from ..errors import EvaluatorError, NotFoundError
from ..states import ACTIVE_STATES
from .client import V1Client
from .models import EvaluationConfig, EvaluationJob

__all__ = ["list_our_configs", "read_jobs"]

_OURS = {f"custom_fields.{CUSTOM_FIELD_MANAGED_BY}": MANAGED_BY}


async def read_jobs(
    client: V1Client, job_ids: Collection[str], page_size: int = 100
) -> tuple[dict[str, EvaluationJob], set[str], dict[str, EvaluatorError]]:
    """`(found, missing, failed)` for `job_ids`; raises when every request failed."""
    wanted = set(job_ids)
    found: dict[str, EvaluationJob] = {}
    if len(wanted) >= len(ACTIVE_STATES["v1"]):  # fewer jobs than lists: direct reads are cheaper
        await _list_active(client, wanted, found, page_size)
    rest = sorted(wanted - set(found))
    answers = await asyncio.gather(
        *(client.get_job(job_id) for job_id in rest), return_exceptions=True
    )
    missing: set[str] = set()
    failed: dict[str, EvaluatorError] = {}
    for job_id, answer in zip(rest, answers, strict=True):
        if isinstance(answer, NotFoundError):
            missing.add(job_id)
        elif isinstance(answer, EvaluatorError):
            failed[job_id] = answer
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found[job_id] = answer
    if failed and len(failed) == len(wanted):
        raise next(iter(failed.values()))
    return found, missing, failed


async def _list_active(
    client: V1Client, wanted: set[str], found: dict[str, EvaluationJob], page_size: int
) -> None:
    """Fill `found` from one paged list per active status; raise only if every list failed."""
    errors: list[EvaluatorError] = []
    for state in ACTIVE_STATES["v1"]:
        try:
            async for job in client.iter_jobs(
                filters={"status": state, **_OURS}, page_size=page_size
            ):
                if job.id in wanted and job.status == state:  # a server may ignore the filter
                    found[job.id] = job
        except EvaluatorError as err:
            errors.append(err)
    if len(errors) == len(ACTIVE_STATES["v1"]):
        raise errors[0]


async def list_our_configs(client: V1Client, page_size: int = 100) -> dict[str, EvaluationConfig]:
    """Every config tagged as ours, by `namespace/name`."""
    configs: dict[str, EvaluationConfig] = {}
    page = 1
    while True:
        result = await client.list_configs(filters=_OURS, page=page, page_size=page_size)
        for config in result.data:
            if config.custom_fields.get(CUSTOM_FIELD_MANAGED_BY) == MANAGED_BY:
                configs[f"{config.namespace}/{config.name}"] = config
        total = result.pagination.total_pages if result.pagination else None
        if not result.data or total is None or page >= total:
            return configs
        page += 1

"""Batched v1 reads: many jobs per request, so polling costs pages, not jobs.

Active jobs come from one paged list of our jobs (`managed_by` tag) whose status is any active
one (`search[status]=created,pending,running,cancelling`). A server that ignores `search`
shows it by answering with finished jobs too; from then on the reader asks once per active
status (`filter[status]`) instead. A job missing from the lists (it just finished, or moved
between pages) is read directly, so correctness never depends on the lists. Drift checks list
our configs once, instead of one read per Benchmark.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from ...constants import CUSTOM_FIELD_MANAGED_BY, MANAGED_BY
from ..errors import EvaluatorError, NotFoundError
from ..states import ACTIVE_STATES
from .client import V1Client
from .models import EvaluationConfig, EvaluationJob

__all__ = ["ActiveJobReader", "list_our_configs"]

log = logging.getLogger(__name__)

_OURS = {f"custom_fields.{CUSTOM_FIELD_MANAGED_BY}": MANAGED_BY}
_ACTIVE = ACTIVE_STATES["v1"]

Read = tuple[dict[str, EvaluationJob], set[str], dict[str, EvaluatorError]]


class ActiveJobReader:
    """Reads many v1 jobs per request; remembers whether the server honours `search`."""

    def __init__(self, client: V1Client, page_size: int = 100) -> None:
        self.client = client
        self.page_size = page_size
        self.combined = True  # one list for every active status, until the server shows otherwise

    async def read(self, job_ids: Collection[str]) -> Read:
        """`(found, missing, failed)` for `job_ids`; raises when every request failed."""
        wanted = set(job_ids)
        found: dict[str, EvaluationJob] = {}
        lists = 1 if self.combined else len(_ACTIVE)
        if len(wanted) > lists:  # fewer jobs than lists: direct reads are cheaper
            await self._list_active(wanted, found)
        rest = sorted(wanted - set(found))
        answers = await asyncio.gather(
            *(self.client.get_job(job_id) for job_id in rest), return_exceptions=True
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

    async def _list_active(self, wanted: set[str], found: dict[str, EvaluationJob]) -> None:
        if self.combined:
            search = {"status": ",".join(_ACTIVE)}
            async for job in self.client.iter_jobs(
                filters=_OURS, search=search, page_size=self.page_size
            ):
                if job.status not in _ACTIVE:  # `search` ignored: stop, and list per status
                    log.info("NeMo ignores search[status]; polling with one list per status")
                    self.combined = False
                    found.clear()
                    break
                if job.id in wanted:
                    found[job.id] = job
            else:
                return
        await self._list_per_status(wanted, found)

    async def _list_per_status(self, wanted: set[str], found: dict[str, EvaluationJob]) -> None:
        """One paged list per active status; raise only if every list failed."""
        errors: list[EvaluatorError] = []
        for state in _ACTIVE:
            try:
                async for job in self.client.iter_jobs(
                    filters={"status": state, **_OURS}, page_size=self.page_size
                ):
                    if job.id in wanted and job.status == state:  # a server may ignore filters
                        found[job.id] = job
            except EvaluatorError as err:
                errors.append(err)
        if len(errors) == len(_ACTIVE):
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

"""Cheap polling: one paged list of active NeMo jobs per interval, shared by every EvalJob.

With N running EvalJobs, per-job GETs cost N requests per interval. Listing the jobs that are
still active (filtered by status and by our `managed_by` tag) costs one request per status per
page instead. A job missing from the snapshot (it just finished, or the list is filtered
differently than we think) falls back to a per-job GET, so correctness never depends on the
list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

from ..constants import CUSTOM_FIELD_MANAGED_BY, MANAGED_BY
from ..evaluator.errors import EvaluatorError
from ..evaluator.models import EvaluationConfig, EvaluationJob, JobStatus
from .ports import EvaluatorPort

__all__ = ["ACTIVE_STATES", "BatchedJobReader", "JobLister"]

ACTIVE_STATES = (JobStatus.CREATED, JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELLING)


class JobLister(EvaluatorPort, Protocol):
    """An evaluator port that can also page through filtered job lists."""

    def iter_jobs(
        self, *, filters: Mapping[str, str] | None = None, page_size: int = 100
    ) -> AsyncIterator[EvaluationJob]: ...


class BatchedJobReader:
    """An EvaluatorPort whose `get_job` is served from a shared, periodically listed snapshot."""

    def __init__(
        self,
        client: JobLister,
        ttl: float,
        page_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._page_size = page_size
        self._clock = clock
        self._snapshot: dict[str, EvaluationJob] = {}
        self._taken_at = float("-inf")
        self._lock = asyncio.Lock()
        self._failure: EvaluatorError | None = None
        self._asked: set[str] = set()  # job ids read since the last refresh
        self.list_refreshes = 0
        self.fallback_reads = 0

    async def get_job(self, job_id: str) -> EvaluationJob:
        """The job from a fresh-enough snapshot, else a direct read."""
        self._asked.add(job_id)
        await self._refresh_if_stale()
        job = self._snapshot.get(job_id)
        if job is not None:
            return job
        self.fallback_reads += 1
        return await self._client.get_job(job_id)

    async def _refresh_if_stale(self) -> None:
        async with self._lock:  # single flight: one refresh however many timers wait
            if self._clock() - self._taken_at >= self._ttl:
                self._taken_at = self._clock()
                few = len(self._asked) < len(ACTIVE_STATES)
                self._asked = set()
                if few:  # fewer jobs than lists: direct reads are cheaper this interval
                    self._snapshot, self._failure = {}, None
                    return
                self._snapshot, self._failure = await self._list_active()
                self.list_refreshes += 1
        if self._failure is not None:
            raise self._failure

    async def _list_active(self) -> tuple[dict[str, EvaluationJob], EvaluatorError | None]:
        """List each active status; a failed list only costs its jobs a direct read.

        When every list fails NeMo is most likely down: the error is remembered for one
        interval, so every timer gets it at no cost instead of sending its own request.
        """
        snapshot: dict[str, EvaluationJob] = {}
        failures: list[EvaluatorError] = []
        for state in ACTIVE_STATES:
            filters = {
                "status": state.value,
                f"custom_fields.{CUSTOM_FIELD_MANAGED_BY}": MANAGED_BY,
            }
            try:
                async for job in self._client.iter_jobs(filters=filters, page_size=self._page_size):
                    if job.state is state:  # never trust a server that ignored the filter
                        snapshot[job.id] = job
            except EvaluatorError as err:
                failures.append(err)
        return snapshot, failures[0] if len(failures) == len(ACTIVE_STATES) else None

    def forget(self, job_id: str) -> None:
        """Drop a job we just changed, so the next read sees NeMo's answer, not the snapshot."""
        self._snapshot.pop(job_id, None)

    async def cancel_job(self, job_id: str) -> None:
        self.forget(job_id)
        await self._client.cancel_job(job_id)

    async def delete_job(self, job_id: str) -> None:
        self.forget(job_id)
        await self._client.delete_job(job_id)

    async def create_config(self, body: dict[str, Any]) -> EvaluationConfig:
        return await self._client.create_config(body)

    async def get_config(self, namespace: str, name: str) -> EvaluationConfig:
        return await self._client.get_config(namespace, name)

    async def update_config(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> EvaluationConfig:
        return await self._client.update_config(namespace, name, body)

    async def delete_config(self, namespace: str, name: str) -> None:
        await self._client.delete_config(namespace, name)

    async def create_job(self, body: dict[str, Any]) -> EvaluationJob:
        return await self._client.create_job(body)

    async def find_jobs(self, custom_field: str, value: str) -> list[EvaluationJob]:
        return await self._client.find_jobs(custom_field, value)

    async def get_results(self, job_id: str) -> dict[str, Any]:
        return await self._client.get_results(job_id)

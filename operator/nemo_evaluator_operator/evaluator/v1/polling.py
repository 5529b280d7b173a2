"""Cheap v1 polling: one paged list of active jobs per interval, shared by every reader.

With N running EvalJobs, per-job GETs cost N requests per interval. Listing the jobs that are
still active (filtered by status and by our `managed_by` tag) costs one request per status per
page instead. A job missing from the snapshot (it just finished, or the list is filtered
differently than we think) falls back to a per-job GET, so correctness never depends on the
list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ...constants import CUSTOM_FIELD_MANAGED_BY, MANAGED_BY
from ..errors import EvaluatorError
from ..states import ACTIVE_STATES
from .client import V1Client
from .models import EvaluationJob

__all__ = ["SnapshotReader"]


class SnapshotReader:
    """`get_job` served from a shared, periodically listed snapshot of active jobs."""

    def __init__(
        self,
        client: V1Client,
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
        async with self._lock:  # single flight: one refresh however many readers wait
            if self._clock() - self._taken_at >= self._ttl:
                self._taken_at = self._clock()
                few = len(self._asked) < len(ACTIVE_STATES["v1"])
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
        interval, so every reader gets it at no cost instead of sending its own request.
        """
        snapshot: dict[str, EvaluationJob] = {}
        failures: list[EvaluatorError] = []
        for state in ACTIVE_STATES["v1"]:
            filters = {"status": state, f"custom_fields.{CUSTOM_FIELD_MANAGED_BY}": MANAGED_BY}
            try:
                async for job in self._client.iter_jobs(filters=filters, page_size=self._page_size):
                    if job.status == state:  # never trust a server that ignored the filter
                        snapshot[job.id] = job
            except EvaluatorError as err:
                failures.append(err)
        return snapshot, failures[0] if len(failures) == len(ACTIVE_STATES["v1"]) else None

    def forget(self, job_id: str) -> None:
        """Drop a job we just changed, so the next read sees NeMo's answer, not the snapshot."""
        self._snapshot.pop(job_id, None)

"""Cheap Helix polling: one list of our active jobs per workspace per interval.

A single JSON filter (`name` containing our prefix, `status` in the active states) covers every
active job of a workspace, page by page. A job absent from the snapshot (it just finished) is
read directly, so correctness never depends on the list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import EvaluatorError
from ..states import ACTIVE_STATES
from .client import HelixClient
from .models import HelixJob
from .naming import JOB_PREFIX

__all__ = ["WorkspaceSnapshots"]


@dataclass
class _Snapshot:
    jobs: dict[str, HelixJob] = field(default_factory=dict)
    taken_at: float = float("-inf")
    failure: EvaluatorError | None = None
    asked: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WorkspaceSnapshots:
    """`get_job` served from a per-workspace snapshot of active jobs, refreshed every `ttl`."""

    def __init__(
        self,
        client: HelixClient,
        ttl: float,
        page_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._page_size = page_size
        self._clock = clock
        self._workspaces: dict[str, _Snapshot] = {}
        self.list_refreshes = 0
        self.fallback_reads = 0

    async def get_job(self, workspace: str, name: str) -> HelixJob:
        snap = self._workspaces.setdefault(workspace, _Snapshot())
        snap.asked.add(name)
        await self._refresh_if_stale(workspace, snap)
        job = snap.jobs.get(name)
        if job is not None:
            return job
        self.fallback_reads += 1
        return await self._client.get_job(workspace, name)

    async def _refresh_if_stale(self, workspace: str, snap: _Snapshot) -> None:
        async with snap.lock:  # single flight per workspace
            if self._clock() - snap.taken_at >= self._ttl:
                snap.taken_at = self._clock()
                few = len(snap.asked) < 2
                snap.asked = set()
                if few:  # one job: a direct read costs the same as a list and returns less
                    snap.jobs, snap.failure = {}, None
                    return
                try:
                    snap.jobs = await self._list_active(workspace)
                    snap.failure = None
                except EvaluatorError as err:
                    # Helix is most likely down: every reader gets this for one interval
                    # instead of sending its own request.
                    snap.jobs, snap.failure = {}, err
                self.list_refreshes += 1
        if snap.failure is not None:
            raise snap.failure

    async def _list_active(self, workspace: str) -> dict[str, HelixJob]:
        active = list(ACTIVE_STATES["helix"])
        where = {"name": {"$like": JOB_PREFIX}, "status": {"$in": active}}
        jobs: dict[str, HelixJob] = {}
        async for job in self._client.iter_jobs(workspace, where=where, page_size=self._page_size):
            if job.status in active:  # never trust a server that ignored the filter
                jobs[job.name] = job
        return jobs

    def forget(self, workspace: str, name: str) -> None:
        """Drop a job we just changed, so the next read sees Helix's answer."""
        snap = self._workspaces.get(workspace)
        if snap is not None:
            snap.jobs.pop(name, None)

"""Keeps every Benchmark's leaderboard current from the EvalJob index, debounced.

EvalJob events (a run that succeeded, a Succeeded run deleted) and Benchmark events (a new
config hash, another leaderboard metric) only mark a Benchmark dirty. Once a second the dirty
ones are ranked again from the in-memory index (one pass over a namespace's EvalJobs, no API
read, no NeMo call) and written only when the result differs, so 5,000 EvalJobs finishing
cost one write per Benchmark per second at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ..errors import KubernetesError
from ..models import Benchmark
from ..reconcile.leaderboard import leaderboard_fields
from ..reconcile.runs import RunRecord
from ..resources.status import StatusWriter

__all__ = ["LEADERBOARD_FIELDS", "LeaderboardKeeper"]

log = logging.getLogger(__name__)

LEADERBOARD_FIELDS = frozenset({"leaderboard", "leaderboardMetric", "leaderboardTop"})
"""Status fields only the keeper writes (the Benchmark sync leaves them alone)."""


class LeaderboardKeeper:
    """Marks, debounces and writes; the ranking itself is `reconcile.leaderboard`."""

    def __init__(
        self,
        runs: Callable[[str], list[RunRecord]],
        benchmark: Callable[[str, str], dict[str, Any] | None],
        remember: Callable[[str, str, dict[str, Any]], None],
        writer: StatusWriter,
        size: int,
        debounce: float = 1.0,
    ) -> None:
        self.runs = runs
        self.benchmark = benchmark
        self.remember = remember
        self.writer = writer
        self.size = size
        self.debounce = debounce
        self.dirty: set[tuple[str, str]] = set()
        self.writes = 0
        self._wake = asyncio.Event()

    def mark(self, namespace: str, name: str) -> None:
        """Something this Benchmark's leaderboard depends on may have changed."""
        if name:
            self.dirty.add((namespace, name))
            self._wake.set()

    async def run_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.debounce)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("Updating leaderboards failed; trying again")
                self._wake.set()

    async def flush(self) -> None:
        """Rank every dirty Benchmark again; write the ones whose leaderboard changed."""
        dirty, self.dirty = self.dirty, set()
        by_namespace: dict[str, list[RunRecord]] = {}
        for namespace, name in sorted(dirty):
            body = self.benchmark(namespace, name)
            if body is None:
                continue
            try:
                benchmark = Benchmark.model_validate(body)
            except ValidationError:
                continue
            if namespace not in by_namespace:
                by_namespace[namespace] = self.runs(namespace)
            fields = leaderboard_fields(benchmark, by_namespace[namespace], self.size)
            known = body.get("status") or {}
            changed = {k: v for k, v in fields.items() if known.get(k) != v}
            if not changed:
                continue
            try:
                await self.writer.benchmark(namespace, name, changed)
            except KubernetesError as err:
                if err.status == 404:
                    continue
                log.warning("Leaderboard of Benchmark %s/%s: %s", namespace, name, err.message)
                self.mark(namespace, name)
                continue
            self.writes += 1
            self.remember(namespace, name, changed)

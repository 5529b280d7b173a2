"""Benchmark watch events into the engine (which syncs, rechecks and deletes them)."""

from __future__ import annotations

from typing import Any

import kopf

from ..constants import BENCHMARK_PLURAL, GROUP, VERSION
from .runtime import runtime

__all__ = ["benchmark_event"]


@kopf.on.event(GROUP, VERSION, BENCHMARK_PLURAL)
async def benchmark_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Index the Benchmark as it is now; the engine decides whether anything must happen."""
    body = event.get("object")
    if isinstance(body, dict):
        runtime(memo).benchmarks.on_event(event.get("type"), body)

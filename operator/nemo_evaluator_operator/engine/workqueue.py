"""Run work per key, one run at a time per key, with delayed and coalesced kicks.

A kick while the key's work runs makes it run once more afterwards (never twice at once); a
later kick for a key that is already due earlier changes nothing. Work returns the delay
until it wants to run again (or None), which is how retries and waits are scheduled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Workqueue"]

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    due: float | None = None  # loop time of the pending run, if one is pending
    timer: asyncio.TimerHandle | None = None


class Workqueue(Generic[K]):
    """`kick(key)` schedules `work(key)`; `exclusive(key)` runs other code under the same lock."""

    def __init__(self, work: Callable[[K], Awaitable[float | None]], concurrency: int) -> None:
        self._work = work
        self._slots: dict[K, _Slot] = {}
        self._running = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def _slot(self, key: K) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        return slot

    def kick(self, key: K, delay: float = 0.0) -> None:
        """Run the key's work after `delay` seconds (sooner if it is already due sooner)."""
        loop = asyncio.get_running_loop()
        slot = self._slot(key)
        due = loop.time() + max(delay, 0.0)
        if slot.due is not None and slot.due <= due:
            return
        if slot.timer is not None:
            slot.timer.cancel()
        slot.due = due
        slot.timer = loop.call_at(due, self._start, key)

    def due(self, key: K) -> float | None:
        """When the key's next run is due (loop time), if one is pending."""
        slot = self._slots.get(key)
        return slot.due if slot else None

    def _start(self, key: K) -> None:
        task = asyncio.get_running_loop().create_task(self._run(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K) -> None:
        slot = self._slot(key)
        async with slot.lock, self._running:
            slot.due, slot.timer = None, None
            try:
                again = await self._work(key)
            except Exception:  # a bug in one object's step must not stop the others
                log.exception("Work for %s failed; retrying in 10s", key)
                again = 10.0
        if again is not None and key in self._slots:
            self.kick(key, again)

    def busy(self, key: K) -> bool:
        """A run is pending or in progress (queued runs hold the lock while they wait)."""
        slot = self._slots.get(key)
        return slot is not None and (slot.due is not None or slot.lock.locked())

    def lock(self, key: K) -> asyncio.Lock:
        """The key's lock: hold it to keep the key's work from running meanwhile."""
        return self._slot(key).lock

    def forget(self, key: K) -> None:
        """Drop the key (its object is gone); a pending run is cancelled."""
        slot = self._slots.pop(key, None)
        if slot is not None and slot.timer is not None:
            slot.timer.cancel()

    async def close(self) -> None:
        """Cancel pending runs and wait for running ones to finish being cancelled."""
        for slot in self._slots.values():
            if slot.timer is not None:
                slot.timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

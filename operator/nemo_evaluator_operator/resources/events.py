"""Kubernetes Events, posted in the background: an event is worth a try, never a wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import KubernetesError
from ..reconcile.evaljob_status import EventSpec
from .kube import KubeResources

__all__ = ["KubeEvents"]

log = logging.getLogger(__name__)


class KubeEvents:
    """Posts each event on the object it is about, without holding up the caller."""

    def __init__(self, kube: KubeResources) -> None:
        self._kube = kube
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, body: Mapping[str, Any], events: Iterable[EventSpec]) -> None:
        for event in events:
            task = asyncio.get_running_loop().create_task(self._post(dict(body), event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, body: dict[str, Any], event: EventSpec) -> None:
        try:
            await self._kube.post_event(body, event.type, event.reason, event.message)
        except KubernetesError as err:  # e.g. the namespace is being deleted
            log.debug("Event %s not posted: %s", event.reason, err.message)

    async def drain(self) -> None:
        """Wait for the events still being posted (at shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

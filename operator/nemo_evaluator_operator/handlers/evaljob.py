"""EvalJob watch events into the engine: kopf only delivers them (no timers, no kopf finalizer).

Everything else (submission, the one poller, cancel, deadlines, deletion) is the engine's, so
that one EvalJob never has two handlers running at once.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..constants import EVALJOB_PLURAL, GROUP, VERSION
from .runtime import runtime

__all__ = ["evaljob_event"]


@kopf.on.event(GROUP, VERSION, EVALJOB_PLURAL)
async def evaljob_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Index the EvalJob as it is now; the engine decides whether anything must happen."""
    body = event.get("object")
    if isinstance(body, dict):
        runtime(memo).evaljobs.on_event(event.get("type"), body)

"""A controllable clock: real time plus an offset, optionally frozen.

Job states are computed from timestamps on this clock, so freezing or advancing it moves every
job at once without any background task.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["Clock", "iso", "parse_iso"]


class Clock:
    """Seconds since the epoch, as the emulator sees them."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        """Current emulated time in epoch seconds."""
        if self._frozen_at is not None:
            return self._frozen_at
        return time.time() + self._offset

    @property
    def frozen(self) -> bool:
        """Whether time stands still until unfrozen or advanced."""
        return self._frozen_at is not None

    def freeze(self) -> None:
        """Stop time at the current instant."""
        self._frozen_at = self.now()

    def unfreeze(self) -> None:
        """Let time run again from where it stood (no jump forward)."""
        if self._frozen_at is not None:
            self._offset = self._frozen_at - time.time()
            self._frozen_at = None

    def advance(self, seconds: float) -> None:
        """Move time forward; negative values are refused so job timelines never run backwards."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds

    def reset(self) -> None:
        """Back to real time, running."""
        self._offset = 0.0
        self._frozen_at = None

    def describe(self) -> dict[str, object]:
        """The clock as JSON for the control API."""
        now = self.now()
        return {
            "now": iso(now),
            "epoch": now,
            "frozen": self.frozen,
            "offset_seconds": self._offset,
        }


def iso(ts: float) -> str:
    """Naive ISO-8601 in UTC with microseconds, as NeMo shows timestamps."""
    moment = datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def parse_iso(text: str) -> float:
    """Parse an ISO date or datetime (naive means UTC) into epoch seconds."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()

"""The emulator's shared state: settings, clock, store, faults, request log and failure queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request

from .clock import Clock
from .faults import FaultBook
from .recorder import RequestLog
from .settings import EmulatorSettings
from .store import StateFile, Store

__all__ = ["Emulator", "EmulatorDep", "PlannedFailure", "get_emulator"]


@dataclass(frozen=True)
class PlannedFailure:
    """A failure the next created job will suffer."""

    message: str
    phase: Literal["pending", "running"]


class Emulator:
    """Everything the routes share; one per app."""

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        state_dir: Path | None = None,
        seed: int | None = None,
        max_recorded_requests: int = 10000,
    ) -> None:
        self.startup_settings = (settings or EmulatorSettings()).model_copy(deep=True)
        self.settings = self.startup_settings.model_copy(deep=True)
        self.seed = seed
        self.clock = Clock()
        self.faults = FaultBook(seed)
        self.requests = RequestLog(max_recorded_requests)
        self.fail_queue: list[PlannedFailure] = []
        self.state_file = StateFile(state_dir) if state_dir is not None else None
        self.store = Store(on_change=self._save)
        self._load()

    def _load(self) -> None:
        if self.state_file is not None and (snapshot := self.state_file.read()) is not None:
            self.store.restore(snapshot)

    def _save(self) -> None:
        if self.state_file is not None:
            self.state_file.write(self.store.snapshot())

    def now(self) -> float:
        """Current emulator time."""
        return self.clock.now()

    def take_failure(self) -> PlannedFailure | None:
        """The next queued failure, if any (consumed)."""
        return self.fail_queue.pop(0) if self.fail_queue else None

    def reset(self, keep_data: bool = False) -> None:
        """Back to the startup state: settings, clock, faults, queue, request log (and data)."""
        self.settings = self.startup_settings.model_copy(deep=True)
        self.clock.reset()
        self.faults.reset(self.seed)
        self.requests.clear()
        self.fail_queue.clear()
        if not keep_data:
            self.store.clear()


def get_emulator(request: Request) -> Emulator:
    """FastAPI dependency: the app's emulator."""
    emulator: Emulator = request.app.state.emulator
    return emulator


EmulatorDep = Annotated[Emulator, Depends(get_emulator)]

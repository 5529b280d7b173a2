"""In-memory storage of configs, targets, jobs and results, optionally persisted to disk.

With a state directory every mutation rewrites `state.json` atomically (temp file + rename),
so a restarted emulator knows everything it knew before.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import ApiError
from .lifecycle import Timeline

__all__ = ["EntityTable", "JobRecord", "StateFile", "Store"]

Entity = dict[str, Any]


class JobRecord(BaseModel):
    """A job: its client-visible fields plus what the lifecycle needs."""

    id: str
    seq: int
    body: dict[str, Any]
    result_id: str
    timeline: Timeline
    task_names: list[str]
    samples_total: int
    padding_bytes: int | None = None
    result_deleted: bool = False


class EntityTable:
    """Configs or targets, unique by `(namespace, name)`."""

    def __init__(self, kind: str, on_change: Callable[[], None]) -> None:
        self.kind = kind
        self._rows: dict[tuple[str, str], Entity] = {}
        self._changed = on_change

    def _missing(self, namespace: str, name: str) -> ApiError:
        return ApiError(404, f"Evaluation {self.kind} {namespace}/{name} not found")

    def _conflict(self, namespace: str, name: str) -> ApiError:
        return ApiError(409, f"Evaluation {self.kind} with name {namespace}/{name} already exists")

    def get(self, namespace: str, name: str) -> Entity:
        """The entity, or 404."""
        found = self._rows.get((namespace, name))
        if found is None:
            raise self._missing(namespace, name)
        return found

    def add(self, entity: Entity) -> Entity:
        """Insert a new entity, or 409 when the name is taken in its namespace."""
        key = (entity["namespace"], entity["name"])
        if key in self._rows:
            raise self._conflict(*key)
        self._rows[key] = entity
        self._changed()
        return entity

    def replace(self, namespace: str, name: str, entity: Entity) -> Entity:
        """Store an updated entity, possibly under a new name (409 if that is taken)."""
        old_key, new_key = (namespace, name), (entity["namespace"], entity["name"])
        self.get(namespace, name)
        if new_key != old_key and new_key in self._rows:
            raise self._conflict(*new_key)
        del self._rows[old_key]
        self._rows[new_key] = entity
        self._changed()
        return entity

    def remove(self, namespace: str, name: str) -> Entity:
        """Delete and return the entity, or 404."""
        entity = self.get(namespace, name)
        del self._rows[(namespace, name)]
        self._changed()
        return entity

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._rows.values()))

    def dump(self) -> list[Entity]:
        return list(self._rows.values())

    def load(self, rows: list[Entity]) -> None:
        self._rows = {(r["namespace"], r["name"]): r for r in rows}


class Store:
    """All emulator data; `on_change` runs after each mutation (persistence hook)."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._hook = on_change or (lambda: None)
        self.configs = EntityTable("config", self.changed)
        self.targets = EntityTable("target", self.changed)
        self.jobs: dict[str, JobRecord] = {}
        self.results: dict[str, Entity] = {}
        self.seq = 0

    def changed(self) -> None:
        """Signal a mutation (saves the state file when one is configured)."""
        self._hook()

    def next_seq(self) -> int:
        """A strictly increasing number, used to break sort ties stably."""
        self.seq += 1
        return self.seq

    def job(self, job_id: str) -> JobRecord:
        """The job, or 404."""
        found = self.jobs.get(job_id)
        if found is None:
            raise ApiError(404, f"Evaluation job {job_id} not found")
        return found

    def clear(self) -> None:
        """Forget everything."""
        self.configs.load([])
        self.targets.load([])
        self.jobs.clear()
        self.results.clear()
        self.changed()

    def snapshot(self) -> dict[str, Any]:
        """Everything as JSON-ready data."""
        return {
            "seq": self.seq,
            "configs": self.configs.dump(),
            "targets": self.targets.dump(),
            "jobs": [j.model_dump(mode="json") for j in self.jobs.values()],
            "results": list(self.results.values()),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot (the inverse of `snapshot`)."""
        self.seq = int(data.get("seq", 0))
        self.configs.load(data.get("configs", []))
        self.targets.load(data.get("targets", []))
        jobs = (JobRecord.model_validate(j) for j in data.get("jobs", []))
        self.jobs = {j.id: j for j in jobs}
        self.results = {r["id"]: r for r in data.get("results", [])}


class StateFile:
    """`<state-dir>/state.json`, written atomically."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.json"

    def read(self) -> dict[str, Any] | None:
        """The saved snapshot, or None when there is none yet."""
        if not self.path.exists():
            return None
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def write(self, snapshot: dict[str, Any]) -> None:
        """Replace the file in one rename, so a crash never leaves half a file."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(snapshot, handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

"""Score gauges: each (Benchmark, model)'s latest scores, gate outcome and last success.

Series come from the EvalJobs the engine indexes, never from a scrape-time listing: every
status change is one `observe` (O(1): a run joins or leaves its key, the key's leader is
compared with it) and every deletion one `forget`. Only the scores an EvalJob keeps in
`status.scores` become series, and a series lives exactly as long as an EvalJob backs it:
a newer run of the same Benchmark and model replaces the older run's series, deleting the
latest run falls back to the one before it, deleting the last removes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from .reconcile.runs import finite_numbers

__all__ = ["ScoreMetrics"]

Key = tuple[str, str, str]  # namespace, benchmark, model


@dataclass(frozen=True)
class _Run:
    uid: str
    key: Key
    at: float  # status.completedAt as unix seconds
    scores: Mapping[str, float] = field(default_factory=dict)
    gate: bool | None = None  # every passCriteria held; None: the EvalJob has no gate

    @property
    def order(self) -> tuple[float, str]:
        return (self.at, self.uid)  # same second: the uid decides, so the leader is stable


class _Latest:
    """For each key, its runs and the latest of them; `put`/`drop` say when the leader moved."""

    def __init__(self) -> None:
        self.members: dict[Key, dict[str, _Run]] = {}
        self.leaders: dict[Key, _Run] = {}

    def put(self, run: _Run) -> tuple[_Run | None, _Run | None]:
        """(old leader, new leader) if the key's leader or its values changed, else (None, None)."""
        self.members.setdefault(run.key, {})[run.uid] = run
        old = self.leaders.get(run.key)
        if old is not None and old.uid == run.uid and run.order < old.order:
            return self._elect(run.key, old)  # the leader's own time went back
        if old is None or old.uid == run.uid or run.order > old.order:
            self.leaders[run.key] = run
            return (old, run) if old != run else (None, None)
        return None, None

    def drop(self, key: Key, uid: str) -> tuple[_Run | None, _Run | None]:
        runs = self.members.get(key)
        if runs is None or runs.pop(uid, None) is None:
            return None, None
        old = self.leaders.get(key)
        if old is None or old.uid != uid:
            return None, None
        return self._elect(key, old)

    def _elect(self, key: Key, old: _Run) -> tuple[_Run | None, _Run | None]:
        """Only when the leader leaves: one pass over the key's runs (one model's history)."""
        runs = self.members.get(key) or {}
        if not runs:
            self.members.pop(key, None)
            self.leaders.pop(key, None)
            return old, None
        new = max(runs.values(), key=lambda r: r.order)
        self.leaders[key] = new
        return old, new


class ScoreMetrics:
    """The score, gate and last-success gauges, kept from `observe` and `forget` calls."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.score = Gauge(
            "nemo_evaluator_operator_score",
            "Latest score per Benchmark, model and metric (the newest EvalJob with results)",
            ["namespace", "benchmark", "model", "metric"],
            registry=registry,
        )
        self.gate = Gauge(
            "nemo_evaluator_operator_gate_passed",
            "1 if the latest gated EvalJob of a Benchmark and model passed its criteria, else 0",
            ["namespace", "benchmark", "model"],
            registry=registry,
        )
        self.last_success = Gauge(
            "nemo_evaluator_operator_last_success_timestamp_seconds",
            "Completion time (unix seconds) of the latest Succeeded EvalJob per Benchmark, model",
            ["namespace", "benchmark", "model"],
            registry=registry,
        )
        self._scored = _Latest()  # runs with results (Succeeded, or Failed by their gate)
        self._succeeded = _Latest()
        self._keys: dict[str, Key] = {}  # uid -> the key it is filed under

    def observe(self, uid: str, namespace: str, benchmark: str, status: Mapping[str, Any]) -> None:
        """An EvalJob's status as the engine now knows it."""
        at = _unix(status.get("completedAt"))
        scores = finite_numbers(status.get("scores"))
        if at is None or not benchmark or (not scores and status.get("phase") != "Succeeded"):
            if uid in self._keys:
                self.forget(uid)
            return
        key: Key = (namespace, benchmark, str(status.get("model") or ""))
        if self._keys.get(uid, key) != key:
            self.forget(uid)
        self._keys[uid] = key
        run = _Run(uid, key, at, scores, _gate(status.get("gate")))
        if scores:
            self._show(*self._scored.put(run))
        else:
            self._show(*self._scored.drop(key, uid))
        if status.get("phase") == "Succeeded":
            moved = self._succeeded.put(run)
        else:
            moved = self._succeeded.drop(key, uid)
        if moved != (None, None):
            self._stamp(key)

    def forget(self, uid: str) -> None:
        """The EvalJob is gone: its series go with it, or pass to the run before it."""
        key = self._keys.pop(uid, None)
        if key is None:
            return
        self._show(*self._scored.drop(key, uid))
        if self._succeeded.drop(key, uid) != (None, None):
            self._stamp(key)

    def _show(self, old: _Run | None, new: _Run | None) -> None:
        leader = new or old
        if leader is None:
            return
        key = leader.key
        kept = new.scores if new else {}
        for metric in (old.scores if old else {}).keys() - kept.keys():
            self.score.remove(*key, metric)
        for metric, value in kept.items():
            self.score.labels(*key, metric).set(value)
        if new is not None and new.gate is not None:
            self.gate.labels(*key).set(1 if new.gate else 0)
        else:
            self.gate.remove(*key)

    def _stamp(self, key: Key) -> None:
        leader = self._succeeded.leaders.get(key)
        if leader is None:
            self.last_success.remove(*key)
        else:
            self.last_success.labels(*key).set(leader.at)


def _unix(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _gate(value: Any) -> bool | None:
    if not isinstance(value, list) or not value:
        return None
    return all(isinstance(item, Mapping) and item.get("passed") is True for item in value)

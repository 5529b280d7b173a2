"""HTTP fault injection: rules per route, and full outages.

A rule matches a method (or `*`) and a path glob (`fnmatch`, where `*` also crosses `/`). When
it fires it may add latency, then answer with a status code (optionally `x-should-retry` and
`retry-after` headers) or drop the connection, without processing the request. A rule without
status or drop lets the request through: `latency_after_seconds` then delays the response after
the request took effect, and `drop_after` processes it but cuts the connection instead of
answering (a client that "never heard back" although the job exists).
`probability` makes it fire at random (seeded, so runs repeat) and `count` limits how many
times it fires. An outage makes every non-control request fail for some wall-clock seconds.
Outages and latency use real time, not the emulator clock, so a frozen clock cannot stall them.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from .schemas import FaultCreate

__all__ = ["Decision", "FaultBook", "FaultRule", "Outage"]


@dataclass
class FaultRule:
    """A rule plus how often it fired."""

    id: str
    spec: FaultCreate
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule covers this request."""
        method_ok = self.spec.method in ("*", method.upper())
        return method_ok and fnmatch.fnmatchcase(path, self.spec.path)

    @property
    def exhausted(self) -> bool:
        """A counted rule that has fired its `count` times."""
        return self.spec.count is not None and self.hits >= self.spec.count

    def to_json(self) -> dict[str, Any]:
        remaining = None if self.spec.count is None else max(0, self.spec.count - self.hits)
        return {"id": self.id, **self.spec.model_dump(), "hits": self.hits, "remaining": remaining}


@dataclass(frozen=True)
class Outage:
    """Every non-control request fails until `until` (monotonic seconds)."""

    until: float
    mode: Literal["status", "drop"]
    status: int

    def to_json(self) -> dict[str, Any]:
        left = max(0.0, self.until - time.monotonic())
        return {"mode": self.mode, "status": self.status, "seconds_left": round(left, 3)}


@dataclass(frozen=True)
class Decision:
    """What to do with one request."""

    name: str | None = None
    latency: float = 0.0
    status: int | None = None
    drop: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    detail: str = ""
    latency_after: float = 0.0
    drop_after: bool = False

    @property
    def holds_response(self) -> bool:
        """Whether the real response must be buffered (delayed or swallowed)."""
        return self.latency_after > 0 or self.drop_after


def _rule_decision(rule: FaultRule) -> Decision:
    spec = rule.spec
    headers: list[tuple[str, str]] = []
    if spec.should_retry is not None:
        headers.append(("x-should-retry", "true" if spec.should_retry else "false"))
    if spec.retry_after is not None:
        headers.append(("retry-after", f"{spec.retry_after:g}"))
    detail = spec.detail or f"Injected fault {rule.id}"
    return Decision(
        name=f"rule:{rule.id}",
        latency=spec.latency_seconds,
        status=spec.status,
        drop=spec.drop,
        headers=tuple(headers),
        detail=detail,
        latency_after=spec.latency_after_seconds,
        drop_after=spec.drop_after,
    )


class FaultBook:
    """The active rules and outage; `decide()` is called once per non-control request."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.outage: Outage | None = None
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)

    def add(self, spec: FaultCreate) -> FaultRule:
        rule = FaultRule(id=f"fault-{next(self._ids)}", spec=spec)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def start_outage(self, seconds: float, mode: Literal["status", "drop"], status: int) -> None:
        self.outage = Outage(time.monotonic() + seconds, mode, status)

    def reset(self, seed: int | None = None) -> None:
        self.rules.clear()
        self.outage = None
        self._rng = random.Random(seed)

    def _outage_decision(self) -> Decision | None:
        if self.outage is None:
            return None
        if time.monotonic() >= self.outage.until:
            self.outage = None
            return None
        if self.outage.mode == "drop":
            return Decision("outage", drop=True)
        return Decision(
            "outage", status=self.outage.status, detail="Service unavailable (emulated outage)"
        )

    def decide(self, method: str, path: str) -> Decision:
        """The fault for this request, or an empty decision."""
        outage = self._outage_decision()
        if outage is not None:
            return outage
        for rule in self.rules:
            if rule.exhausted or not rule.matches(method, path):
                continue
            probability = rule.spec.probability
            if probability is not None and self._rng.random() >= probability:
                continue
            rule.hits += 1
            return _rule_decision(rule)
        return Decision()

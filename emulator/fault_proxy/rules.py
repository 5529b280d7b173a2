"""Fault rules, outages and the decision for one request: pure, no I/O.

A rule covers a `method` (or any) and a `path` prefix (or a regex searched in the path). Of the
rules that cover a request, the first active one fires: it is not spent (`count`), it has let its
first `after` covered requests through, and its `probability` roll (seeded RNG) succeeds. Every
rule counts the requests it covers (`matched`), whichever rule fires, so `after` means "the first
N requests this rule covers". An outage overrides every rule while it lasts.
"""

from __future__ import annotations

import html
import http
import itertools
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Action",
    "Decision",
    "FaultBook",
    "FaultRule",
    "FaultSpec",
    "Outage",
    "OutageSpec",
    "gateway_page",
]

Action = Literal["status", "delay", "timeout", "drop", "drop_after"]

_STATUS_ONLY = ("body", "detail", "content_type", "preset", "retry_after", "headers")
_SECONDS_REQUIRED: tuple[Action, ...] = ("delay", "timeout")
_SECONDS_ALLOWED: tuple[Action, ...] = ("delay", "timeout", "status")


def gateway_page(status: int) -> str:
    """The HTML error page a gateway such as nginx answers with (`502 Bad Gateway`, ...)."""
    try:
        title = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    title = html.escape(title)
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


class FaultSpec(BaseModel):
    """A fault rule as the control API accepts it (`POST /_proxy/faults`)."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    method: str | None = Field(None, description="HTTP method; null or '*' for any")
    path: str = Field("/", description="path prefix, or a regex when path_regex is true")
    path_regex: bool = False
    status: int | None = Field(None, ge=100, le=599, description="status action: the code")
    body: str | None = Field(None, description="status action: the body, sent as is")
    detail: str | None = Field(None, description='status action: body {"detail": detail}')
    content_type: str | None = None
    preset: Literal["gateway_html"] | None = Field(None, description="nginx-style HTML page")
    retry_after: float | None = Field(None, ge=0, description="status action: retry-after")
    headers: dict[str, str] = Field(default_factory=dict)
    seconds: float | None = Field(None, ge=0, description="delay/timeout; status waits first")
    probability: float = Field(1.0, ge=0, le=1)
    count: int | None = Field(None, ge=1, description="fire at most this many times")
    after: int = Field(0, ge=0, description="let the first N covered requests through")

    @field_validator("method")
    @classmethod
    def _upper_method(cls, value: str | None) -> str | None:
        if value is None or value.strip() in ("", "*"):
            return None
        return value.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> FaultSpec:
        if self.path_regex:
            try:
                re.compile(self.path)
            except re.error as exc:
                raise ValueError(f"path is not a valid regex: {exc}") from exc
        elif not self.path.startswith("/"):
            raise ValueError("path must be a prefix starting with '/' (or set path_regex)")
        if self.action != "status":
            given = [name for name in (*_STATUS_ONLY, "status") if name in self.model_fields_set]
            if given:
                raise ValueError(f"{', '.join(given)}: only for action 'status'")
        elif self.body is not None and (self.detail is not None or self.preset is not None):
            raise ValueError("body excludes detail and preset")
        if self.action in _SECONDS_REQUIRED and self.seconds is None:
            raise ValueError(f"action {self.action!r} needs seconds")
        if self.seconds is not None and self.action not in _SECONDS_ALLOWED:
            raise ValueError(f"seconds: not for action {self.action!r}")
        if self.action == "status" and self.status is None:
            self.status = 502 if self.preset == "gateway_html" else 503
        return self


class OutageSpec(BaseModel):
    """An outage as the control API accepts it (`POST /_proxy/outage`)."""

    model_config = ConfigDict(extra="forbid")

    seconds: float | None = Field(None, gt=0, description="null: until DELETE /_proxy/outage")
    mode: Literal["status", "drop"] = "status"
    status: int = Field(503, ge=100, le=599)


@dataclass(frozen=True)
class Decision:
    """What to do with one request instead of (or around) forwarding it."""

    source: str  # "rule:<id>" or "outage"
    action: Action
    seconds: float = 0.0
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass
class FaultRule:
    """A rule, its compiled path matcher and its counters."""

    id: str
    spec: FaultSpec
    matched: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.spec.path) if self.spec.path_regex else None

    def covers(self, method: str, path: str) -> bool:
        """Whether method and path fall under the rule (counters aside)."""
        if self.spec.method is not None and self.spec.method != method.upper():
            return False
        if self._pattern is not None:
            return self._pattern.search(path) is not None
        return path.startswith(self.spec.path)

    @property
    def remaining(self) -> int | None:
        """How many more times it may fire (None: no limit)."""
        return None if self.spec.count is None else max(0, self.spec.count - self.fired)

    @property
    def spent(self) -> bool:
        return self.remaining == 0

    def decision(self) -> Decision:
        """The decision this rule stands for when it fires."""
        spec = self.spec
        source = f"rule:{self.id}"
        if spec.action != "status":
            return Decision(source, spec.action, seconds=spec.seconds or 0.0)
        assert spec.status is not None  # set by the validator for status rules
        content_type, body = _status_body(spec, source)
        headers = [("content-type", content_type)]
        if spec.retry_after is not None:
            headers.append(("retry-after", f"{spec.retry_after:g}"))
        headers += [(k.lower(), v) for k, v in spec.headers.items()]
        return Decision(
            source, "status", spec.seconds or 0.0, spec.status, tuple(headers), body.encode()
        )

    def to_json(self) -> dict[str, Any]:
        """The rule as `GET /_proxy/faults` lists it."""
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "matched": self.matched,
            "fired": self.fired,
            "remaining": self.remaining,
            "spent": self.spent,
        }


def _status_body(spec: FaultSpec, source: str) -> tuple[str, str]:
    assert spec.status is not None
    if spec.body is not None:
        return spec.content_type or "text/plain; charset=utf-8", spec.body
    if spec.preset == "gateway_html":
        return spec.content_type or "text/html", gateway_page(spec.status)
    detail = spec.detail or f"fault proxy: injected {spec.status} ({source})"
    return spec.content_type or "application/json", json.dumps({"detail": detail})


@dataclass(frozen=True)
class Outage:
    """Every non-control request fails until `until` (clock seconds; None: until ended)."""

    spec: OutageSpec
    until: float | None

    def decision(self) -> Decision:
        if self.spec.mode == "drop":
            return Decision("outage", "drop")
        body = json.dumps({"detail": "fault proxy: outage (injected)"}).encode()
        headers = (("content-type", "application/json"),)
        return Decision("outage", "status", status=self.spec.status, headers=headers, body=body)

    def to_json(self, now: float) -> dict[str, Any]:
        left = None if self.until is None else round(max(0.0, self.until - now), 3)
        return {**self.spec.model_dump(), "seconds_left": left}


class FaultBook:
    """The rules in order, the outage, and the seeded RNG for probabilities."""

    def __init__(self, seed: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.rules: list[FaultRule] = []
        self._outage: Outage | None = None
        self._seed = seed
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._clock = clock

    def add(self, spec: FaultSpec) -> FaultRule:
        """Append a rule (it is checked after every earlier one)."""
        rule = FaultRule(f"fault-{next(self._ids)}", spec)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False when there was none with that id."""
        kept = [rule for rule in self.rules if rule.id != rule_id]
        removed = len(kept) < len(self.rules)
        self.rules = kept
        return removed

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        count = len(self.rules)
        self.rules = []
        return count

    def start_outage(self, spec: OutageSpec) -> Outage:
        until = None if spec.seconds is None else self._clock() + spec.seconds
        self._outage = Outage(spec, until)
        return self._outage

    def end_outage(self) -> bool:
        """End the outage; False when none was on."""
        active = self.outage() is not None
        self._outage = None
        return active

    def outage(self) -> Outage | None:
        """The outage in force now, if any (an expired one is forgotten)."""
        outage = self._outage
        if outage is not None and outage.until is not None and self._clock() >= outage.until:
            self._outage = outage = None
        return outage

    def outage_json(self) -> dict[str, Any] | None:
        outage = self.outage()
        return None if outage is None else outage.to_json(self._clock())

    def reset(self) -> None:
        """No rules, no outage, the RNG back at its seed, rule ids from 1 again."""
        self.rules = []
        self._outage = None
        self._rng = random.Random(self._seed)
        self._ids = itertools.count(1)

    def decide(self, method: str, path: str) -> Decision | None:
        """The fault for this request, or None to forward it untouched."""
        outage = self.outage()
        if outage is not None:
            return outage.decision()
        chosen: FaultRule | None = None
        for rule in self.rules:
            if rule.spent or not rule.covers(method, path):
                continue
            rule.matched += 1
            if chosen is None and rule.matched > rule.spec.after and self._roll(rule):
                chosen = rule
        if chosen is None:
            return None
        chosen.fired += 1
        return chosen.decision()

    def _roll(self, rule: FaultRule) -> bool:
        probability = rule.spec.probability
        if probability >= 1:
            return True  # no RNG draw, so certain rules do not shift the seeded sequence
        return self._rng.random() < probability

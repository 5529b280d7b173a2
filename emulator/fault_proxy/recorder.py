"""A bounded log of the requests the proxy handled, for tests to inspect.

Each record says what came in (method, path, raw query), what the client got (`status`, None
when the connection was closed without an answer), whether a fault applied (`fault` is
`rule:<id>` or `outage`, `action` what it did), what upstream answered (`upstream_status`, or
`upstream_error`), and how long it took. Headers are never kept; bodies only with `log_bodies`,
because they may carry credentials.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]

_MAX_BODY_TEXT = 1 << 20


@dataclass
class RequestRecord:
    """One request; the proxy fills in the outcome as it goes."""

    seq: int
    method: str
    path: str
    query: str
    body: bytes | None = None
    time: float = field(default_factory=time.time)
    status: int | None = None
    fault: str | None = None
    action: str | None = None
    upstream_status: int | None = None
    upstream_error: str | None = None
    duration_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as `GET /_proxy/requests` returns it."""
        data: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "faulted": self.fault is not None,
            "fault": self.fault,
            "action": self.action,
            "upstream_status": self.upstream_status,
            "upstream_error": self.upstream_error,
            "duration_ms": self.duration_ms,
        }
        if self.body is not None:
            data.update(_body_fields(self.body))
        return data


def _body_fields(body: bytes) -> dict[str, Any]:
    if not body:
        return {"body": None, "body_text": None}
    try:
        return {"body": json.loads(body), "body_text": None}
    except ValueError:
        return {"body": None, "body_text": body[:_MAX_BODY_TEXT].decode("utf-8", "replace")}


class RequestLog:
    """The latest `capacity` requests, oldest first."""

    def __init__(self, capacity: int = 10_000, log_bodies: bool = False) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._seq = 0
        self.log_bodies = log_bodies

    def start(self, method: str, path: str, query: str, body: bytes) -> RequestRecord:
        """Record a request as it arrives (kept even if the client never gets an answer)."""
        self._seq += 1
        record = RequestRecord(self._seq, method, path, query, body if self.log_bodies else None)
        self._records.append(record)
        return record

    def query(
        self, method: str | None = None, path_prefix: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        """Records with `seq > since`, optionally of one method and under a path prefix."""
        wanted = method.upper() if method else None
        return [
            record.to_json()
            for record in self._records
            if record.seq > since
            and (wanted is None or record.method == wanted)
            and (path_prefix is None or record.path.startswith(path_prefix))
        ]

    def clear(self) -> int:
        """Forget every record (sequence numbers keep counting); returns how many there were."""
        count = len(self._records)
        self._records.clear()
        return count

    def reset(self) -> None:
        """Forget every record and number the next one 1 again."""
        self._records.clear()
        self._seq = 0

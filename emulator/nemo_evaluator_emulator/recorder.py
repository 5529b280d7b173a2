"""A bounded log of every API request the emulator received, for tests to inspect.

Bodies are kept verbatim, secrets included (`api_endpoint.api_key`): the emulator is a test tool
and tests must be able to see that a client injected a key. Never point real credentials at it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]

_MAX_TEXT = 1 << 20


class RequestRecord:
    """One request and what the emulator answered."""

    def __init__(self, seq: int, scope: dict[str, Any], body: bytes) -> None:
        self.seq = seq
        self.time = time.time()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self.headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        self.body_bytes = body
        self.status: int | None = None
        self.fault: str | None = None
        self.duration_ms: float | None = None

    def _body(self) -> tuple[Any, str | None]:
        if not self.body_bytes:
            return None, None
        text = self.body_bytes[:_MAX_TEXT].decode("utf-8", errors="replace")
        try:
            return json.loads(self.body_bytes), None
        except ValueError:
            return None, text

    def to_json(self) -> dict[str, Any]:
        """The record as the control API returns it."""
        body, text = self._body()
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": body,
            "body_text": text,
            "status": self.status,
            "fault": self.fault,
            "duration_ms": self.duration_ms,
        }


class RequestLog:
    """The most recent `capacity` requests, oldest first."""

    def __init__(self, capacity: int = 10000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._seq = 0

    def start(self, scope: dict[str, Any], body: bytes) -> RequestRecord:
        """Record a request as it arrives; the caller fills in status and fault."""
        self._seq += 1
        record = RequestRecord(self._seq, scope, body)
        self._records.append(record)
        return record

    def query(
        self, method: str | None, path_prefix: str | None, since: int
    ) -> list[dict[str, Any]]:
        """Records after `since`, optionally only one method and a path prefix."""
        return [
            r.to_json()
            for r in self._records
            if r.seq > since
            and (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
        ]

    def clear(self) -> None:
        """Forget all records (sequence numbers keep increasing)."""
        self._records.clear()

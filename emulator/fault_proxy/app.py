"""The ASGI app: control routes under `/_proxy/`, everything else forwarded with faults applied.

Each forwarded request is read whole, recorded, checked against the fault book, then answered
from upstream, answered by the fault, or left without an answer. "Without an answer" closes the
TCP connection before a byte of a response is written, so a client sees "server disconnected
without sending a response"; that needs uvicorn (its `send` is a method of a cycle that holds
the transport). If upstream itself closes the connection without answering, the client's
connection is closed too, as it would be without the proxy.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .recorder import RequestLog, RequestRecord
from .routes import create_control_app
from .rules import Decision, FaultBook
from .upstream import RawHeaders, Upstream, UpstreamAnswer, UpstreamError, response_headers

__all__ = ["CONTROL_PREFIX", "FaultProxy", "create_app", "drop_connection", "is_control"]

CONTROL_PREFIX = "/_proxy"
_NO_BODY_STATUSES = frozenset({204, 304})
_PROXY_HEADER = b"x-fault-proxy"


def is_control(path: str) -> bool:
    """Whether a path belongs to the control API (served here, never forwarded)."""
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def drop_connection(send: Send) -> None:
    """Close the client's TCP connection without answering (uvicorn's cycle owns the transport)."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault proxy: cannot drop a connection outside uvicorn")
    transport.close()
    for _ in range(100):  # until uvicorn saw connection_lost, or it would still answer 500
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


async def _respond(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _own_answer(status: int, detail: str, marker: str) -> tuple[RawHeaders, bytes]:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (_PROXY_HEADER, marker.encode()),
    ]
    return headers, body


def _answer_headers(method: str, answer: UpstreamAnswer) -> RawHeaders:
    headers = response_headers(answer.headers)
    if method == "HEAD" or answer.status == 304:
        headers += [(k, v) for k, v in answer.headers if k.lower() == b"content-length"]
    elif answer.status not in _NO_BODY_STATUSES:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    return headers


class FaultProxy:
    """The whole app; `faults` and `log` are shared with the control routes."""

    def __init__(self, upstream: Upstream, faults: FaultBook, log: RequestLog) -> None:
        self.upstream = upstream
        self.faults = faults
        self.log = log
        self.control: ASGIApp = create_control_app(faults, log, str(upstream.base_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1003})
        elif is_control(scope["path"]):
            await self.control(scope, receive, send)
        else:
            await self._proxy(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        body = await _read_body(receive)
        query = scope.get("query_string", b"")
        record = self.log.start(scope["method"], scope["path"], query.decode("latin-1"), body)
        try:
            decision = self.faults.decide(scope["method"], scope["path"])
            if decision is None:
                await self._forward(scope, body, send, record)
            else:
                record.fault, record.action = decision.source, decision.action
                await self._apply(decision, scope, body, send, record)
        finally:
            record.duration_ms = round((time.monotonic() - started) * 1000, 3)

    async def _apply(
        self, decision: Decision, scope: Scope, body: bytes, send: Send, record: RequestRecord
    ) -> None:
        if decision.seconds:
            await asyncio.sleep(decision.seconds)
        if decision.action == "status":
            headers = [(k.encode(), v.encode()) for k, v in decision.headers]
            headers += [
                (b"content-length", str(len(decision.body)).encode()),
                (_PROXY_HEADER, decision.source.encode()),
            ]
            record.status = decision.status
            await _respond(send, decision.status, headers, decision.body)
        elif decision.action == "delay":
            await self._forward(scope, body, send, record)
        elif decision.action == "drop_after":
            await self._call_upstream(scope, body, record)
            await drop_connection(send)
        else:  # drop, timeout (its hold was the wait above)
            await drop_connection(send)

    async def _call_upstream(
        self, scope: Scope, body: bytes, record: RequestRecord
    ) -> UpstreamAnswer | UpstreamError:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        try:
            answer = await self.upstream.forward(
                scope["method"], raw_path, scope.get("query_string", b""), scope["headers"], body
            )
        except UpstreamError as exc:
            record.upstream_error = f"{exc.kind}: {exc.text}"
            return exc
        record.upstream_status = answer.status
        return answer

    async def _forward(self, scope: Scope, body: bytes, send: Send, record: RequestRecord) -> None:
        result = await self._call_upstream(scope, body, record)
        if isinstance(result, UpstreamAnswer):
            record.status = result.status
            headers = _answer_headers(scope["method"], result)
            await _respond(send, result.status, headers, result.body)
        elif result.kind == "disconnected":
            await drop_connection(send)
        else:
            status = 504 if result.kind == "timeout" else 502
            what = "timed out" if result.kind == "timeout" else "unreachable"
            headers, answer = _own_answer(
                status, f"fault proxy: upstream {what}: {result.text}", f"upstream-{result.kind}"
            )
            record.status = status
            await _respond(send, status, headers, answer)


def create_app(
    upstream_url: str,
    seed: int | None = None,
    log_bodies: bool = False,
    max_requests: int = 10_000,
    upstream_timeout: float = 300.0,
) -> FaultProxy:
    """The proxy for `upstream_url` (a base URL; request paths are appended to its path)."""
    upstream = Upstream(upstream_url, timeout=upstream_timeout)
    return FaultProxy(upstream, FaultBook(seed), RequestLog(max_requests, log_bodies))

"""ASGI middleware that records every API request and applies injected faults.

Control routes (`/_emulator/...`) pass straight through: they are never faulted or recorded.
A dropped connection closes the socket before any byte of a response is written, which a
client sees as "server disconnected without sending a response".
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import Decision, FaultBook
from .recorder import RequestLog, RequestRecord

__all__ = ["CONTROL_PREFIX", "EmulatorMiddleware"]

CONTROL_PREFIX = "/_emulator"


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


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _drop(send: Send) -> None:
    """Close the TCP connection without answering (uvicorn's h11 protocol exposes the transport)."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("emulated dropped connection")
    transport.close()
    for _ in range(3):  # let uvicorn see connection_lost, so it does not try to answer 500
        await asyncio.sleep(0)


async def _send_error(send: Send, decision: Decision) -> None:
    assert decision.status is not None
    body = json.dumps({"detail": decision.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in decision.headers]
    await send({"type": "http.response.start", "status": decision.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EmulatorMiddleware:
    """Wraps the FastAPI app; holds references to the shared fault book and request log."""

    def __init__(self, app: ASGIApp, faults: FaultBook, log: RequestLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        body = await _read_body(receive)
        record = self.log.start(dict(scope), body)
        try:
            await self._handle(scope, _replay(body, receive), send, record)
        finally:
            record.duration_ms = round((time.monotonic() - started) * 1000, 3)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, record: RequestRecord
    ) -> None:
        decision = self.faults.decide(scope["method"], scope["path"])
        record.fault = decision.name
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.drop:
            await _drop(send)
            return
        if decision.status is not None:
            record.status = decision.status
            await _send_error(send, decision)
            return

        held: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            if decision.holds_response:
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, capture)
        if decision.holds_response:
            await _release(held, send, decision)


async def _release(held: list[Message], send: Send, decision: Decision) -> None:
    """Send a buffered response late, or drop the connection instead of sending it."""
    if decision.latency_after:
        await asyncio.sleep(decision.latency_after)
    if decision.drop_after:
        await _drop(send)
        return
    for message in held:
        await send(message)

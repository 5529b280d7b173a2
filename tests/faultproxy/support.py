"""Test support: a tiny upstream (uvicorn in a thread, recording every request) and a waiter.

Routes (also under `/base`): `/status/<code>` answers that code; `/gzip` a gzip-encoded JSON
body; `/hangup` closes the connection without answering; `/redirect` a 302; `/slow?seconds=S`
answers after S seconds; anything else echoes the request back as JSON (method, raw path, query,
headers, base64 body) with a few response headers of its own.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from fault_proxy.app import drop_connection

__all__ = ["GZIP_BODY", "SEED", "SeenRequest", "ThreadUpstream", "wait_until"]

SEED = 7  # --seed of the proxies under test
GZIP_BODY = b'{"zipped": true}'


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {what or condition}")
        time.sleep(0.02)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v.decode() for k, v in self.headers if k.decode().lower() == name.lower()]


async def _read_body(receive: Receive) -> bytes:
    body: bytes = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ThreadUpstream:
    """The server, its URL and what it received (thread-safe)."""

    def __init__(self) -> None:
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="upstream", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test upstream did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def seen(self, path_prefix: str = "/") -> list[SeenRequest]:
        with self._lock:
            return [r for r in self._seen if r.path.startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await _read_body(receive)
        seen = SeenRequest(
            scope["method"], scope["path"], scope["raw_path"], scope["query_string"],
            list(scope["headers"]), body,
        )  # fmt: skip
        with self._lock:
            self._seen.append(seen)
        await self._route(seen, send)

    async def _route(self, seen: SeenRequest, send: Send) -> None:
        path = seen.path.removeprefix("/base")  # the same routes under an upstream base path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            payload = b"" if code in (204, 304) else json.dumps({"status": code}).encode()
            await _answer(send, code, [(b"content-type", b"application/json")], payload)
        elif path == "/gzip":
            headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
            await _answer(send, 200, headers, gzip.compress(GZIP_BODY))
        elif path == "/hangup":
            await drop_connection(send)
        elif path == "/redirect":
            await _answer(send, 302, [(b"location", b"/echo/redirected")], b"")
        elif path == "/slow":
            await asyncio.sleep(float(seen.query.decode().split("=", 1)[1]))
            await _answer(send, 200, [(b"content-type", b"text/plain")], b"slow")
        else:
            await self._echo(seen, send)

    async def _echo(self, seen: SeenRequest, send: Send) -> None:
        payload: dict[str, Any] = {
            "method": seen.method,
            "raw_path": seen.raw_path.decode(),
            "query": seen.query.decode(),
            "headers": [[k.decode(), v.decode()] for k, v in seen.headers],
            "body_b64": base64.b64encode(seen.body).decode(),
        }
        headers = [
            (b"content-type", b"application/json"),
            (b"x-upstream", b"echo"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/"),
        ]
        await _answer(
            send, 201 if seen.method == "POST" else 200, headers, json.dumps(payload).encode()
        )

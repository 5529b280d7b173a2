"""Forwarding one buffered request to the upstream server and buffering its answer.

Method, path (still percent-encoded), raw query, headers and body go out unchanged, except the
hop-by-hop headers (and the ones `Connection` names), `Host` (httpx sets the upstream's) and
`Expect`. The answer comes back as raw bytes: a gzip body stays gzip with its
`content-encoding`. No client defaults (user-agent, accept-encoding) and no cookies are added,
and redirects are passed back, not followed. Connections to upstream are not kept alive, so a
request never lands on a connection upstream is about to close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import httpx

__all__ = [
    "HOP_BY_HOP",
    "RawHeaders",
    "Upstream",
    "UpstreamAnswer",
    "UpstreamError",
    "request_headers",
    "response_headers",
]

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)


def _without(headers: Iterable[tuple[bytes, bytes]], drop: frozenset[bytes]) -> RawHeaders:
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    return [(k, v) for k, v in pairs if k.lower() not in drop and k.lower() not in named]


def request_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """The client's headers as they go upstream (content-length kept: the body is whole)."""
    return _without(headers, HOP_BY_HOP | {b"host", b"expect"})


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """Upstream's headers as they go back (content-length is recomputed by the caller)."""
    return _without(headers, HOP_BY_HOP | {b"content-length"})


@dataclass(frozen=True)
class UpstreamAnswer:
    status: int
    headers: RawHeaders  # as received, hop-by-hop included
    body: bytes


class UpstreamError(Exception):
    """No answer from upstream: could not connect, timed out, or it closed the connection."""

    def __init__(self, kind: Literal["unreachable", "timeout", "disconnected"], text: str):
        super().__init__(text)
        self.kind = kind
        self.text = text


def _error(exc: httpx.HTTPError) -> UpstreamError:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return UpstreamError("unreachable", text)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError("timeout", text)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return UpstreamError("disconnected", text)
    return UpstreamError("unreachable", text)


class Upstream:
    """The upstream base URL and one httpx.AsyncClient for it."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = httpx.URL(base_url)
        self._base_path = self.base_url.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )

    def url(self, raw_path: bytes, query: bytes) -> httpx.URL:
        """The upstream URL for a request path (under the base URL's own path) and query."""
        target = self._base_path + raw_path
        if query:
            target += b"?" + query
        return self.base_url.copy_with(raw_path=target)

    async def forward(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
    ) -> UpstreamAnswer:
        """Send the request and read the whole answer (raises UpstreamError)."""
        request = httpx.Request(
            method, self.url(raw_path, query), headers=request_headers(headers), content=body
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise _error(exc) from exc
        return UpstreamAnswer(response.status_code, list(response.headers.raw), content)

    async def aclose(self) -> None:
        await self._client.aclose()

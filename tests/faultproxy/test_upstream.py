"""Forwarding without a server (httpx.MockTransport), and the request log on its own."""

from __future__ import annotations

import gzip

import httpx
import pytest

from fault_proxy.recorder import RequestLog
from fault_proxy.upstream import Upstream, UpstreamError, request_headers, response_headers


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    incoming = [
        (b"Host", b"proxy:1"),
        (b"Connection", b"keep-alive, X-Hop"),
        (b"X-Hop", b"1"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Expect", b"100-continue"),
        (b"Authorization", b"Bearer t"),
        (b"Content-Length", b"3"),
        (b"X-Twice", b"a"),
        (b"X-Twice", b"b"),
    ]
    assert request_headers(incoming) == [
        (b"Authorization", b"Bearer t"),
        (b"Content-Length", b"3"),
        (b"X-Twice", b"a"),
        (b"X-Twice", b"b"),
    ]
    answer = [(b"content-length", b"9"), (b"set-cookie", b"a=1"), (b"transfer-encoding", b"x")]
    assert response_headers(answer) == [(b"set-cookie", b"a=1")]


async def test_forward_keeps_path_query_headers_and_raw_body() -> None:
    seen: list[httpx.Request] = []
    zipped = gzip.compress(b"hello")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            207,
            headers=[("content-encoding", "gzip"), ("x-a", "1")],
            stream=httpx.ByteStream(zipped),
        )

    upstream = Upstream("http://up.test:9/base/", transport=httpx.MockTransport(handler))
    answer = await upstream.forward(
        "PUT", b"/v1/a%2Fb", b"filter[x]=1&q=a%20b", [(b"x-client", b"yes")], b"payload"
    )
    await upstream.aclose()
    (request,) = seen
    assert request.url.raw_path == b"/base/v1/a%2Fb?filter[x]=1&q=a%20b"
    assert request.method == "PUT"
    assert request.content == b"payload"
    assert request.headers.raw == [
        (b"Host", b"up.test:9"),
        (b"x-client", b"yes"),
        (b"Content-Length", b"7"),
    ]  # no user-agent, accept or accept-encoding of httpx's own
    assert (answer.status, answer.body) == (207, zipped)  # still encoded
    assert (b"content-encoding", b"gzip") in answer.headers


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), "unreachable"),
        (httpx.ConnectTimeout("slow connect"), "unreachable"),
        (httpx.ReadTimeout("slow answer"), "timeout"),
        (httpx.RemoteProtocolError("hung up"), "disconnected"),
        (httpx.ReadError("reset"), "disconnected"),
    ],
)
async def test_transport_errors_become_upstream_errors(error: httpx.HTTPError, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    upstream = Upstream("http://up.test", transport=httpx.MockTransport(handler))
    with pytest.raises(UpstreamError) as caught:
        await upstream.forward("GET", b"/", b"", [], b"")
    await upstream.aclose()
    assert caught.value.kind == kind
    assert str(error) in caught.value.text


def test_request_log_is_bounded_filtered_and_keeps_no_bodies_by_default() -> None:
    log = RequestLog(capacity=3)
    for method, path in [("GET", "/a"), ("POST", "/v1/jobs"), ("post", "/v1/x"), ("GET", "/v1/y")]:
        log.start(method, path, "", b'{"secret": 1}')
    assert [r["seq"] for r in log.query()] == [2, 3, 4]
    assert [r["path"] for r in log.query(method="post", path_prefix="/v1/")] == ["/v1/jobs"]
    assert [r["seq"] for r in log.query(since=3)] == [4]
    assert all("body" not in r and "body_text" not in r for r in log.query())
    assert log.clear() == 3
    assert log.start("GET", "/", "", b"").seq == 5


def test_request_log_keeps_bodies_when_asked() -> None:
    log = RequestLog(log_bodies=True)
    log.start("POST", "/j", "", b'{"a": 1}')
    log.start("POST", "/t", "", b"plain \xff")
    log.start("GET", "/e", "", b"")
    bodies = [(r["body"], r["body_text"]) for r in log.query()]
    assert bodies == [({"a": 1}, None), (None, "plain \ufffd"), (None, None)]

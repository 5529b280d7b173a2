"""The proxy as a separate process in front of a real upstream, each fault observed over HTTP."""

from __future__ import annotations

import base64
import gzip
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fault_proxy.control import FaultProxyControl
from fault_proxy.testing import RunningFaultProxy, free_port, run_fault_proxy

from .support import GZIP_BODY, SEED, ThreadUpstream, wait_until


def _record(control: FaultProxyControl, path: str) -> dict[str, Any]:
    """The one logged request for `path`, once the proxy has finished with it."""
    found: list[dict[str, Any]] = []

    def finished() -> bool:
        found[:] = [r for r in control.requests() if r["path"] == path]
        return len(found) == 1 and found[0]["duration_ms"] is not None

    wait_until(finished, what=f"one finished request for {path}")
    return found[0]


# Forwarding


def test_request_reaches_upstream_unchanged(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    headers = {"X-Custom": "1", "Authorization": "Bearer t", "Content-Type": "application/x-bin"}
    answer = client.post(
        "/echo/a%2Fb?filter[status]=x&q=a%20b&q=2", content=b"\x00\xffbin", headers=headers
    )
    assert answer.status_code == 201
    (seen,) = upstream.seen()
    assert (seen.method, seen.raw_path, seen.query) == (
        "POST", b"/echo/a%2Fb", b"filter[status]=x&q=a%20b&q=2",
    )  # fmt: skip
    assert seen.body == b"\x00\xffbin"
    for name, value in headers.items():
        assert seen.header(name) == [value]
    assert seen.header("user-agent") == [client.headers["user-agent"]]  # the client's, once
    assert seen.header("host") == [f"127.0.0.1:{upstream.port}"]
    assert seen.header("connection") == []  # hop-by-hop
    assert base64.b64decode(answer.json()["body_b64"]) == b"\x00\xffbin"


def test_answer_comes_back_unchanged(client: httpx.Client) -> None:
    answer = client.get("/echo/x")
    assert answer.status_code == 200
    assert answer.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert answer.headers["x-upstream"] == "echo"
    assert answer.headers.get_list("server") == ["uvicorn"]  # upstream's own, not doubled
    assert len(answer.headers.get_list("date")) == 1
    assert answer.headers["content-length"] == str(len(answer.content))
    assert "x-fault-proxy" not in answer.headers


def test_error_empty_redirect_and_head_answers_pass_through(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    failed = client.get("/status/500")
    assert (failed.status_code, failed.json()) == (500, {"status": 500})
    empty = client.delete("/status/204")
    assert (empty.status_code, empty.content) == (204, b"")
    moved = client.get("/redirect")
    assert (moved.status_code, moved.headers["location"]) == (302, "/echo/redirected")
    head = client.head("/echo/h")
    assert (head.status_code, head.content) == (200, b"")
    logged = {r["path"]: r for r in control.requests()}
    assert logged["/status/500"]["upstream_status"] == logged["/status/500"]["status"] == 500
    assert not any(r["faulted"] for r in logged.values())


def test_gzip_body_stays_encoded(client: httpx.Client) -> None:
    with client.stream("GET", "/gzip") as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == GZIP_BODY
    assert answer.headers["content-length"] == str(len(raw))


def test_upstream_hanging_up_hangs_up_on_the_client(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/hangup")
    record = _record(control, "/hangup")
    assert (record["status"], record["faulted"]) == (None, False)
    assert record["upstream_error"].startswith("disconnected: ")


# Fault actions


def test_status_fault_answers_without_upstream_until_spent(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    rule = control.add_fault("status", "/v1/jobs", method="POST", status=503, count=2)
    for _ in range(2):
        answer = client.post("/v1/jobs", json={"n": 1})
        assert answer.status_code == 503
        assert answer.json() == {"detail": f"fault proxy: injected 503 (rule:{rule})"}
        assert answer.headers["x-fault-proxy"] == f"rule:{rule}"
    assert client.get("/v1/jobs").status_code == 200  # another method
    assert client.post("/v1/jobs", json={"n": 1}).status_code == 201  # spent
    assert [r.method for r in upstream.seen()] == ["GET", "POST"]
    listed = control.fault(rule)
    assert (listed["fired"], listed["remaining"], listed["spent"]) == (2, 0, True)


def test_gateway_page_with_retry_after(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("status", "/", preset="gateway_html", retry_after=7)
    answer = client.post("/apis/evals/v2/workspaces/w/evaluate/jobs", json={})
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "text/html"
    assert answer.headers["retry-after"] == "7"
    assert "<title>502 Bad Gateway</title>" in answer.text
    assert upstream.seen() == []


def test_regex_path_and_after(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("status", r"^/v1/jobs/[^/]+$", path_regex=True, status=500, after=1, count=1)
    codes = [client.get(path).status_code for path in
             ("/v1/jobs/a", "/v1/jobs/a/status", "/v1/jobs/b", "/v1/jobs/c")]  # fmt: skip
    assert codes == [200, 200, 500, 200]
    assert [r.path for r in upstream.seen()] == ["/v1/jobs/a", "/v1/jobs/a/status", "/v1/jobs/c"]


def test_delay_forwards_late(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("delay", "/echo/", seconds=0.6, count=1)
    started = time.monotonic()
    answer = client.get("/echo/late")
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert 0.55 <= elapsed < 8
    assert [r.path for r in upstream.seen()] == ["/echo/late"]
    record = _record(control, "/echo/late")
    assert (record["action"], record["upstream_status"]) == ("delay", 200)
    assert record["duration_ms"] >= 550


def test_timeout_outlasts_a_client_timeout_and_never_reaches_upstream(
    proxy: RunningFaultProxy, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("timeout", "/v1/jobs", seconds=1.5)
    with (
        httpx.Client(base_url=proxy.base_url, timeout=0.3, trust_env=False) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/v1/jobs", json={})
    record = _record(control, "/v1/jobs")  # waits until the proxy let go of it
    assert (record["status"], record["action"], record["upstream_status"]) == (
        None,
        "timeout",
        None,
    )
    assert upstream.seen() == []


def test_timeout_closes_without_answer_after_holding(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    control.add_fault("timeout", "/v1/jobs", seconds=0.5)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v1/jobs")
    assert 0.45 <= time.monotonic() - started < 8


def test_a_held_request_does_not_hold_up_others(
    proxy: RunningFaultProxy, client: httpx.Client, control: FaultProxyControl
) -> None:
    control.add_fault("timeout", "/held", seconds=2)
    errors: list[BaseException] = []

    def held_request() -> None:
        with httpx.Client(base_url=proxy.base_url, timeout=10, trust_env=False) as other:
            try:
                other.get("/held")
            except httpx.HTTPError as exc:
                errors.append(exc)

    thread = threading.Thread(target=held_request)
    thread.start()
    wait_until(lambda: control.requests(path_prefix="/held"), what="the held request arrived")
    assert client.get("/echo/meanwhile").status_code == 200
    assert control.requests(path_prefix="/held")[0]["duration_ms"] is None  # still held
    thread.join(timeout=15)
    assert [type(e) for e in errors] == [httpx.RemoteProtocolError]


def test_drop_closes_at_once_without_upstream(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("drop", "/v1/jobs", method="GET", count=1)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v1/jobs")
    assert time.monotonic() - started < 5
    assert client.get("/v1/jobs").status_code == 200  # spent: the next one goes through
    record = control.requests()[0]
    assert (record["status"], record["fault"], record["action"]) == (None, "rule:fault-1", "drop")
    assert len(upstream.seen()) == 1


def test_drop_after_the_post_took_effect_upstream(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("drop_after", "/v1/evaluation/jobs", method="POST", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/evaluation/jobs", json={"name": "job-1"})
    (created,) = upstream.seen()
    assert (created.method, created.body) == ("POST", b'{"name":"job-1"}')
    record = _record(control, "/v1/evaluation/jobs")
    assert (record["status"], record["upstream_status"], record["action"]) == (
        None, 201, "drop_after",
    )  # fmt: skip
    retry = client.post("/v1/evaluation/jobs", json={"name": "job-1"})
    assert retry.status_code == 201
    assert len(upstream.seen()) == 2  # a blind retry reached upstream a second time


# Outages


def test_outage_until_ended(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    control.add_fault("drop", "/")
    control.outage()
    for verb, path in [("GET", "/echo/a"), ("POST", "/v1/jobs"), ("GET", "/health")]:
        answer = client.request(verb, path)
        assert answer.status_code == 503
        assert answer.json() == {"detail": "fault proxy: outage (injected)"}
    assert control.healthy()  # the control API is never faulted
    assert control.outage_state() == {
        "seconds": None, "mode": "status", "status": 503, "seconds_left": None,
    }  # fmt: skip
    assert control.fault("fault-1")["matched"] == 0  # the outage came first
    control.clear_faults()
    control.end_outage()
    assert client.get("/echo/b").status_code == 200
    assert [r.path for r in upstream.seen()] == ["/echo/b"]
    assert [r["fault"] for r in control.requests()] == ["outage"] * 3 + [None]


def test_timed_outage_ends_by_itself(client: httpx.Client, control: FaultProxyControl) -> None:
    started = time.monotonic()
    control.outage(1.5, status=502)
    assert client.get("/echo/x").status_code == 502
    wait_until(lambda: client.get("/echo/x").status_code == 200, timeout=15, what="outage over")
    assert time.monotonic() - started >= 1.45
    assert control.outage_state() is None


def test_drop_outage_closes_connections(client: httpx.Client, control: FaultProxyControl) -> None:
    control.outage(mode="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/echo/x")
    control.end_outage()
    assert client.get("/echo/x").status_code == 200


# Probability, the request log, the control API


def test_seeded_probability_repeats_after_reset(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    def run() -> list[int]:
        control.reset()
        control.add_fault("status", "/coin", probability=0.5, status=500)
        return [client.get("/coin").status_code for _ in range(30)]

    first = run()
    assert first == run()
    assert set(first) == {200, 500}


def test_request_log_records_outcomes_without_bodies(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    control.add_fault("status", "/v1/jobs", method="POST", status=429)
    client.get("/echo/a", params={"x": "1"})
    client.post("/v1/jobs", json={"api_key": "secret"})
    client.post("/v1/other", json={})
    client.get("/_proxy/faults")  # control calls are not logged
    records = control.requests()
    assert [(r["seq"], r["method"], r["path"], r["query"]) for r in records] == [
        (1, "GET", "/echo/a", "x=1"), (2, "POST", "/v1/jobs", ""), (3, "POST", "/v1/other", ""),
    ]  # fmt: skip
    plain, faulted, _ = records
    assert (plain["status"], plain["upstream_status"], plain["faulted"]) == (200, 200, False)
    assert (faulted["status"], faulted["upstream_status"]) == (429, None)
    assert (faulted["faulted"], faulted["fault"], faulted["action"]) == (
        True,
        "rule:fault-1",
        "status",
    )
    assert all(r["duration_ms"] >= 0 and r["time"] > 0 for r in records)
    assert all("body" not in r for r in records)
    assert [r["seq"] for r in control.requests(method="post", path_prefix="/v1/jobs")] == [2]
    assert [r["seq"] for r in control.requests(since=2)] == [3]
    control.clear_requests()
    assert control.requests() == []


def test_control_routes_are_never_forwarded(
    client: httpx.Client, upstream: ThreadUpstream, control: FaultProxyControl
) -> None:
    assert client.get("/_proxy/health").json()["upstream"] == upstream.base_url
    assert client.get("/_proxy/nothing").status_code == 404
    assert client.get("/_proxy").status_code == 404
    assert upstream.seen() == []
    assert control.requests() == []


def test_bad_rules_are_rejected_and_rules_can_be_removed(
    client: httpx.Client, control: FaultProxyControl
) -> None:
    for bad in ({"action": "delay"}, {"action": "boom"}, {"action": "drop", "status": 500}):
        assert client.post("/_proxy/faults", json=bad).status_code == 422
    assert client.post("/_proxy/outage", json={"seconds": -1}).status_code == 422
    assert client.delete("/_proxy/faults/fault-9").status_code == 404
    rule = control.add_fault("drop", "/x")
    control.remove_fault(rule)
    assert control.faults() == []


# Proxies with other flags


@pytest.fixture(scope="module")
def tuned_proxy(upstream: ThreadUpstream) -> Iterator[RunningFaultProxy]:
    """Upstream with a base path, a short upstream timeout, and request bodies logged."""
    args = ("--upstream-timeout", "0.5", "--no-access-log")
    with run_fault_proxy(f"{upstream.base_url}/base/", *args, log_bodies=True) as proxy:
        yield proxy


def test_upstream_base_path_prefixes_request_paths(
    tuned_proxy: RunningFaultProxy, upstream: ThreadUpstream
) -> None:
    upstream.clear()
    answer = httpx.get(f"{tuned_proxy.base_url}/echo/x?y=1", trust_env=False)
    assert answer.json()["raw_path"] == "/base/echo/x"
    assert answer.json()["query"] == "y=1"


def test_log_bodies_keeps_request_bodies(tuned_proxy: RunningFaultProxy) -> None:
    tuned_proxy.control.reset()
    httpx.post(f"{tuned_proxy.base_url}/echo/j", json={"a": 1}, trust_env=False)
    httpx.post(f"{tuned_proxy.base_url}/echo/t", content=b"not json", trust_env=False)
    bodies = [(r["body"], r["body_text"]) for r in tuned_proxy.control.requests()]
    assert bodies == [({"a": 1}, None), (None, "not json")]


def test_slow_upstream_gives_504(tuned_proxy: RunningFaultProxy) -> None:
    tuned_proxy.control.reset()
    answer = httpx.get(f"{tuned_proxy.base_url}/slow?seconds=2", timeout=10, trust_env=False)
    assert answer.status_code == 504
    assert answer.json()["detail"].startswith("fault proxy: upstream timed out: ")
    assert answer.headers["x-fault-proxy"] == "upstream-timeout"


def test_unreachable_upstream_gives_502_and_stops_on_sigterm() -> None:
    with run_fault_proxy(f"http://127.0.0.1:{free_port()}", seed=SEED) as proxy:
        answer = httpx.post(f"{proxy.base_url}/v1/jobs", json={}, trust_env=False)
        assert answer.status_code == 502
        assert answer.json()["detail"].startswith("fault proxy: upstream unreachable: ")
        assert answer.headers["x-fault-proxy"] == "upstream-unreachable"
        (record,) = proxy.control.requests()
        assert (record["status"], record["upstream_status"]) == (502, None)
        assert record["upstream_error"].startswith("unreachable: ")
        assert proxy.control.healthy()
    assert proxy.process is not None
    assert proxy.process.returncode in (0, -signal.SIGTERM)  # not SIGKILL
    assert "Application shutdown complete" in proxy.logs()  # the upstream client was closed

"""V1Client against an injected `httpx.MockTransport`: requests, errors, paging."""

from __future__ import annotations

import contextlib
import json
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from nemo_evaluator_operator.evaluator.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EvaluatorAPIError,
    EvaluatorConnectionError,
    EvaluatorError,
    EvaluatorResponseError,
    EvaluatorTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnprocessableEntityError,
)
from nemo_evaluator_operator.evaluator.port import JobState
from nemo_evaluator_operator.evaluator.states import job_state
from nemo_evaluator_operator.evaluator.transport import (
    HttpTransport,
    encode_filters,
    parse_retry_after,
)
from nemo_evaluator_operator.evaluator.v1.client import V1Client
from nemo_evaluator_operator.evaluator.v1.models import EvaluationConfig, EvaluationJob

BASE = "http://evaluator.test"
SECRET = "sk-SECRET-do-not-log"
JOB_BODY: dict[str, Any] = {
    "namespace": "team-a",
    "config": "team-a/qa-bleu",
    "target": {
        "type": "model",
        "model": {"api_endpoint": {"url": "http://nim/v1", "model_id": "m", "api_key": SECRET}},
    },
    "custom_fields": {"evaljob_uid": "u1"},
}
CONFIG_BODY: dict[str, Any] = {"type": "mmlu", "name": "mmlu-5", "namespace": "team-a"}
JOB_JSON: dict[str, Any] = {"id": "eval-1", "status": "created", "status_details": {}}

Handler = Callable[[httpx.Request], httpx.Response]
Call = Callable[[V1Client], Awaitable[Any]]


class Recorder:
    """MockTransport handler that records requests and answers from a queue (last repeats)."""

    def __init__(self, *responses: httpx.Response | Handler | Exception) -> None:
        self.responses = list(responses) or [httpx.Response(200, json={})]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


class Observed:
    """`on_response` observer that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None, float]] = []

    def __call__(self, method: str, route: str, status: int | None, seconds: float) -> None:
        self.calls.append((method, route, status, seconds))


@pytest.fixture
def make_client() -> Callable[..., V1Client]:
    """Build clients over a MockTransport; tests close them with `async with`."""

    def build(handler: Handler, on_response: Observed | None = None) -> V1Client:
        http = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler))
        return V1Client(HttpTransport(http, on_response=on_response))

    return build


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


# --- every method: HTTP method, path, body -------------------------------------------------

METHOD_CASES: list[tuple[str, Call, str, str, Any, httpx.Response]] = [
    ("health", lambda c: c.health(), "GET", "/health", None, httpx.Response(200, text="healthy")),
    (
        "create_config",
        lambda c: c.create_config(CONFIG_BODY),
        "POST",
        "/v1/evaluation/configs",
        CONFIG_BODY,
        httpx.Response(200, json=CONFIG_BODY),
    ),
    (
        "get_config",
        lambda c: c.get_config("team-a", "mmlu-5"),
        "GET",
        "/v1/evaluation/configs/team-a/mmlu-5",
        None,
        httpx.Response(200, json=CONFIG_BODY),
    ),
    (
        "get_config quoted",
        lambda c: c.get_config("team a", "x/y?z#"),
        "GET",
        "/v1/evaluation/configs/team%20a/x%2Fy%3Fz%23",
        None,
        httpx.Response(200, json=CONFIG_BODY),
    ),
    (
        "update_config",
        lambda c: c.update_config("team-a", "mmlu-5", {"params": {"limit_samples": 5}}),
        "PATCH",
        "/v1/evaluation/configs/team-a/mmlu-5",
        {"params": {"limit_samples": 5}},
        httpx.Response(200, json=CONFIG_BODY),
    ),
    (
        "delete_config",
        lambda c: c.delete_config("team-a", "mmlu-5"),
        "DELETE",
        "/v1/evaluation/configs/team-a/mmlu-5",
        None,
        httpx.Response(200, json={"id": "c", "deleted_at": "now", "message": "deleted"}),
    ),
    (
        "create_job",
        lambda c: c.create_job(JOB_BODY),
        "POST",
        "/v1/evaluation/jobs",
        JOB_BODY,
        httpx.Response(200, json=JOB_JSON),
    ),
    (
        "get_job",
        lambda c: c.get_job("eval-1"),
        "GET",
        "/v1/evaluation/jobs/eval-1",
        None,
        httpx.Response(200, json=JOB_JSON),
    ),
    (
        "get_job quoted",
        lambda c: c.get_job("../configs"),
        "GET",
        "/v1/evaluation/jobs/..%2Fconfigs",
        None,
        httpx.Response(200, json=JOB_JSON),
    ),
    (
        "cancel_job",
        lambda c: c.cancel_job("eval-1"),
        "POST",
        "/v1/evaluation/jobs/eval-1/cancel",
        {},
        httpx.Response(200, json=JOB_JSON),
    ),
    (
        "delete_job",
        lambda c: c.delete_job("eval-1"),
        "DELETE",
        "/v1/evaluation/jobs/eval-1",
        None,
        httpx.Response(204),
    ),
    (
        "get_results",
        lambda c: c.get_results("eval-1"),
        "GET",
        "/v1/evaluation/jobs/eval-1/results",
        None,
        httpx.Response(200, json={"tasks": {}}),
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "body", "response"),
    [case[1:] for case in METHOD_CASES],
    ids=[case[0] for case in METHOD_CASES],
)
async def test_request_shape(
    make_client: Callable[..., V1Client],
    call: Call,
    method: str,
    path: str,
    body: Any,
    response: httpx.Response,
) -> None:
    server = Recorder(response)
    async with make_client(server) as client:
        await call(client)
    assert len(server.requests) == 1
    request = server.last
    assert request.method == method
    assert request.url.raw_path.decode() == path
    assert request.url.query == b""
    assert body_of(request) == body
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("call", "response", "expected"),
    [
        (
            lambda c: c.create_job(JOB_BODY),
            {**JOB_JSON, "custom_fields": {"evaljob_uid": "u1"}},
            EvaluationJob(id="eval-1", status="created", custom_fields={"evaljob_uid": "u1"}),
        ),
        (
            lambda c: c.get_config("team-a", "mmlu-5"),
            CONFIG_BODY,
            EvaluationConfig(type="mmlu", name="mmlu-5", namespace="team-a"),
        ),
        (lambda c: c.get_results("eval-1"), {"tasks": {"qa": {}}}, {"tasks": {"qa": {}}}),
        (lambda c: c.cancel_job("eval-1"), JOB_JSON, None),
    ],
    ids=["create_job", "get_config", "get_results", "cancel_job"],
)
async def test_parsed_result(
    make_client: Callable[..., V1Client], call: Call, response: Any, expected: Any
) -> None:
    async with make_client(Recorder(httpx.Response(200, json=response))) as client:
        assert await call(client) == expected


async def test_unknown_status_and_null_details_parse(
    make_client: Callable[..., V1Client],
) -> None:
    answer = {"id": "eval-1", "status": "paused", "status_details": None, "new_field": 1}
    async with make_client(Recorder(httpx.Response(200, json=answer))) as client:
        job = await client.get_job("eval-1")
    assert job.status == "paused"
    assert job_state("v1", job.status) is JobState.UNKNOWN
    assert job.status_details.task_status == {}
    assert job.model_extra == {"new_field": 1}


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_delete_job_accepts_any_2xx(
    make_client: Callable[..., V1Client], status: int
) -> None:
    server = Recorder(httpx.Response(status))
    async with make_client(server) as client:
        await client.delete_job("eval-1")  # no exception is the assertion
    assert [r.method for r in server.requests] == ["DELETE"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_job(""),
        lambda c: c.get_config("", "x"),
        lambda c: c.get_config("ns", ""),
        lambda c: c.cancel_job(""),
        lambda c: c.delete_job(""),
    ],
)
async def test_empty_path_segment_is_rejected_before_sending(
    make_client: Callable[..., V1Client], call: Call
) -> None:
    server = Recorder()
    async with make_client(server) as client:
        with pytest.raises(ValueError, match="non-empty"):
            await call(client)
    assert server.requests == []


# --- query encoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [("page", "1"), ("page_size", "100"), ("sort", "-created_at")]),
        (
            {"page": 3, "page_size": 5, "sort": "updated_at"},
            [("page", "3"), ("page_size", "5"), ("sort", "updated_at")],
        ),
        (
            {"filters": {"status": "running", "custom_fields.evaljob_uid": "u1"}},
            [
                ("filter[status]", "running"),
                ("filter[custom_fields][evaljob_uid]", "u1"),
                ("page", "1"),
                ("page_size", "100"),
                ("sort", "-created_at"),
            ],
        ),
        (
            {"filters": {"namespace": "a b&c=d"}, "page": 2},
            [
                ("filter[namespace]", "a b&c=d"),
                ("page", "2"),
                ("page_size", "100"),
                ("sort", "-created_at"),
            ],
        ),
    ],
    ids=["defaults", "paging-and-sort", "nested-filters", "escaped-value"],
)
async def test_list_jobs_query(
    make_client: Callable[..., V1Client],
    kwargs: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    server = Recorder(httpx.Response(200, json={"data": [JOB_JSON]}))
    async with make_client(server) as client:
        page = await client.list_jobs(**kwargs)
    assert server.last.url.path == "/v1/evaluation/jobs"
    assert server.last.url.params.multi_items() == expected
    assert [job.id for job in page.data] == ["eval-1"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, []),
        ({"status": "running"}, [("filter[status]", "running")]),
        ({"a.b.c": "v"}, [("filter[a][b][c]", "v")]),
    ],
)
def test_encode_filters(filters: dict[str, str], expected: list[tuple[str, str]]) -> None:
    assert encode_filters(filters) == expected


@pytest.mark.parametrize("key", ["", "a..b", ".a", "a."])
def test_encode_filters_rejects_empty_segments(key: str) -> None:
    with pytest.raises(ValueError, match="invalid filter key"):
        encode_filters({key: "v"})


# --- error mapping --------------------------------------------------------------------------


def detail_response(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail})


VALIDATION_BODY = {
    "detail": [
        {"loc": ["body", "config", "type"], "msg": "field required", "type": "missing"},
        {"loc": ["body", "target"], "msg": "bad target", "type": "value_error", "input": SECRET},
    ]
}


@pytest.mark.parametrize(
    ("response", "error_cls", "detail", "retry_after"),
    [
        (detail_response(400, "bad combination"), BadRequestError, "bad combination", None),
        (detail_response(401, "no token"), AuthenticationError, "no token", None),
        (detail_response(403, "forbidden"), AuthenticationError, "forbidden", None),
        (detail_response(404, "Job not found"), NotFoundError, "Job not found", None),
        (detail_response(409, "exists"), ConflictError, "exists", None),
        (
            httpx.Response(422, json=VALIDATION_BODY),
            UnprocessableEntityError,
            "body.config.type: field required; body.target: bad target",
            None,
        ),
        (
            httpx.Response(429, json={"detail": "slow down"}, headers={"retry-after": "7"}),
            RateLimitedError,
            "slow down",
            7.0,
        ),
        (detail_response(429, "slow down"), RateLimitedError, "slow down", None),
        (detail_response(418, "teapot"), EvaluatorAPIError, "teapot", None),
        (httpx.Response(500, text="<html>oops</html>"), ServerError, "<html>oops</html>", None),
        (httpx.Response(502), ServerError, "Bad Gateway", None),
        (
            httpx.Response(503, text="maintenance", headers={"retry-after": "2.5"}),
            ServerError,
            "maintenance",
            2.5,
        ),
        (
            httpx.Response(500, json={"detail": "x"}, headers={"retry-after": "9"}),
            ServerError,
            "x",
            None,
        ),
    ],
    ids=[
        "400", "401", "403", "404", "409", "422", "429-retry-after", "429-bare",
        "418-other-4xx", "500-html", "502-empty", "503-retry-after", "500-ignores-retry-after",
    ],
)  # fmt: skip
async def test_error_mapping(
    make_client: Callable[..., V1Client],
    response: httpx.Response,
    error_cls: type[EvaluatorAPIError],
    detail: str,
    retry_after: float | None,
) -> None:
    async with make_client(Recorder(response)) as client:
        with pytest.raises(EvaluatorAPIError) as caught:
            await client.create_job(JOB_BODY)
    err = caught.value
    assert type(err) is error_cls
    assert err.status_code == response.status_code
    assert err.detail == detail
    assert err.retry_after == retry_after
    assert (err.method, err.path) == ("POST", "/v1/evaluation/jobs")
    assert str(err) == f"POST /v1/evaluation/jobs failed with HTTP {response.status_code}: {detail}"
    assert err.message == str(err)
    assert SECRET not in str(err)
    assert SECRET not in repr(err)


async def test_error_keeps_parsed_body_and_route_template(
    make_client: Callable[..., V1Client],
) -> None:
    answer = httpx.Response(404, json={"detail": "Job eval-9 not found", "code": 7})
    async with make_client(Recorder(answer)) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_job("eval-9")
    assert caught.value.body == {"detail": "Job eval-9 not found", "code": 7}
    assert caught.value.path == "/v1/evaluation/jobs/{job_id}"


async def test_long_non_json_body_is_truncated(
    make_client: Callable[..., V1Client],
) -> None:
    async with make_client(Recorder(httpx.Response(500, text="x" * 5000))) as client:
        with pytest.raises(ServerError) as caught:
            await client.get_job("eval-1")
    assert 0 < len(caught.value.detail) <= 500
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    ("raised", "error_cls"),
    [
        (httpx.ConnectError("connection refused"), EvaluatorConnectionError),
        (httpx.RemoteProtocolError("server hung up"), EvaluatorConnectionError),
        (httpx.ConnectTimeout("connect timed out"), EvaluatorTimeoutError),
        (httpx.ReadTimeout("read timed out"), EvaluatorTimeoutError),
        (httpx.PoolTimeout("pool timed out"), EvaluatorTimeoutError),
    ],
)
async def test_transport_errors(
    make_client: Callable[..., V1Client],
    raised: Exception,
    error_cls: type[EvaluatorConnectionError],
) -> None:
    server, observed = Recorder(raised), Observed()
    async with make_client(server, on_response=observed) as client:
        with pytest.raises(EvaluatorConnectionError) as caught:
            await client.create_job(JOB_BODY)
    assert type(caught.value) is error_cls
    assert caught.value.__cause__ is raised
    assert (caught.value.method, caught.value.path) == ("POST", "/v1/evaluation/jobs")
    assert SECRET not in str(caught.value)
    assert len(server.requests) == 1
    assert [call[:3] for call in observed.calls] == [("POST", "/v1/evaluation/jobs", None)]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_job(JOB_BODY),
        lambda c: c.create_config(CONFIG_BODY),
        lambda c: c.cancel_job("eval-1"),
        lambda c: c.get_job("eval-1"),
        lambda c: c.delete_job("eval-1"),
    ],
    ids=["create_job", "create_config", "cancel_job", "get_job", "delete_job"],
)
@pytest.mark.parametrize("status", [500, 503, 429, 409])
async def test_never_retries(make_client: Callable[..., V1Client], call: Call, status: int) -> None:
    server = Recorder(httpx.Response(status, headers={"retry-after": "0"}), httpx.Response(200))
    async with make_client(server) as client:
        with pytest.raises(EvaluatorAPIError):
            await call(client)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("call", "response", "mentions"),
    [
        (lambda c: c.get_job("eval-1"), httpx.Response(200, text="<html>proxy</html>"), "not JSON"),
        (
            lambda c: c.get_job("eval-1"),
            httpx.Response(200, json={"status": "running", "target": {"api_key": SECRET}}),
            "id: Field required",
        ),
        (lambda c: c.get_config("a", "b"), httpx.Response(200, json={"name": "b"}), "type"),
        (lambda c: c.get_results("eval-1"), httpx.Response(200, json=[1, 2]), "non-object"),
        (lambda c: c.list_jobs(), httpx.Response(200, json={"data": "nope"}), "data"),
    ],
    ids=["html", "job-without-id", "config-without-type", "results-list", "page-bad-data"],
)
async def test_malformed_success_body(
    make_client: Callable[..., V1Client], call: Call, response: httpx.Response, mentions: str
) -> None:
    async with make_client(Recorder(response)) as client:
        with pytest.raises(EvaluatorResponseError, match=mentions) as caught:
            await call(client)
    assert SECRET not in "".join(traceback.format_exception(caught.value))


# --- observer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "status", "expected"),
    [
        (lambda c: c.get_job("eval-123"), 200, ("GET", "/v1/evaluation/jobs/{job_id}", 200)),
        (
            lambda c: c.cancel_job("eval-123"),
            409,
            ("POST", "/v1/evaluation/jobs/{job_id}/cancel", 409),
        ),
        (
            lambda c: c.get_config("ns-1", "cfg-1"),
            404,
            ("GET", "/v1/evaluation/configs/{namespace}/{config_name}", 404),
        ),
        (
            lambda c: c.list_jobs(filters={"status": "running"}),
            200,
            ("GET", "/v1/evaluation/jobs", 200),
        ),
    ],
    ids=["get_job", "cancel_job-409", "get_config-404", "list_jobs"],
)
async def test_observer_sees_route_template(
    make_client: Callable[..., V1Client],
    call: Call,
    status: int,
    expected: tuple[str, str, int],
) -> None:
    observed = Observed()
    answer = httpx.Response(status, json=JOB_JSON)
    async with make_client(Recorder(answer), on_response=observed) as client:
        with contextlib.suppress(EvaluatorError):
            await call(client)
    assert [c[:3] for c in observed.calls] == [expected]
    assert observed.calls[0][3] >= 0.0


# --- from_settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"), [("tok-1", "Bearer tok-1"), (None, None), ("", None)]
)
async def test_bearer_header_only_with_token(token: str | None, expected: str | None) -> None:
    server = Recorder(httpx.Response(200, json=JOB_JSON))
    client = V1Client.from_settings(BASE, token=token, transport=httpx.MockTransport(server))
    async with client:
        await client.get_job("eval-1")
    assert server.last.headers.get("authorization") == expected


async def test_from_settings_timeouts_and_base_path() -> None:
    server = Recorder(httpx.Response(200, json=JOB_JSON))
    client = V1Client.from_settings(
        "https://gateway.test/nemo/",
        timeout=12.0,
        connect_timeout=3.0,
        transport=httpx.MockTransport(server),
    )
    async with client:
        await client.get_job("eval-1")
    request = server.last
    assert str(request.url) == "https://gateway.test/nemo/v1/evaluation/jobs/eval-1"
    assert request.extensions["timeout"] == {
        "connect": 3.0,
        "read": 12.0,
        "write": 12.0,
        "pool": 12.0,
    }
    assert request.headers["accept"] == "application/json"


def test_from_settings_missing_ca_file_fails_fast(tmp_path: Any) -> None:
    with pytest.raises(OSError):
        V1Client.from_settings(BASE, ca_file=str(tmp_path / "missing.pem"))


async def test_observer_passed_through_from_settings() -> None:
    observed = Observed()
    client = V1Client.from_settings(
        BASE,
        on_response=observed,
        transport=httpx.MockTransport(Recorder(httpx.Response(200, text="healthy"))),
    )
    async with client:
        await client.health()
    assert [c[:3] for c in observed.calls] == [("GET", "/health", 200)]


# --- paging ---------------------------------------------------------------------------------


def jobs(*ids: str, **custom: str) -> list[dict[str, Any]]:
    return [{"id": i, "status": "running", "custom_fields": dict(custom)} for i in ids]


def page(
    data: list[dict[str, Any]], total_pages: int | None = None, size: int = 2
) -> httpx.Response:
    pagination = {"page": 1, "page_size": size, "total_pages": total_pages}
    return httpx.Response(200, json={"object": "list", "data": data, "pagination": pagination})


@pytest.mark.parametrize(
    ("pages", "expected_ids", "expected_requests"),
    [
        ([page(jobs("a", "b")), page(jobs("c", "d")), page([])], ["a", "b", "c", "d"], 3),
        ([page(jobs("a", "b"), 2), page(jobs("c"), 2), page(jobs("x"), 2)], ["a", "b", "c"], 2),
        ([page(jobs("a", "b"), 1)], ["a", "b"], 1),
        ([page([], 0)], [], 1),
        (
            [
                httpx.Response(200, json={"data": jobs("a", "b")}),
                httpx.Response(200, json={"data": jobs("c")}),
                httpx.Response(200, json={"data": jobs("never")}),
            ],
            ["a", "b", "c"],
            2,
        ),
        ([page(jobs("a", "b"))], ["a", "b"], 2),  # server ignores `page`: same page again
    ],
    ids=["empty-page", "total-pages", "single-page", "no-jobs", "short-page-bare", "page-ignored"],
)
@pytest.mark.timeout(10)  # a paging bug loops forever; fail fast instead
async def test_iter_jobs_stops(
    make_client: Callable[..., V1Client],
    pages: list[httpx.Response],
    expected_ids: list[str],
    expected_requests: int,
) -> None:
    server = Recorder(*pages)
    async with make_client(server) as client:
        found = client.iter_jobs(filters={"status": "running"}, page_size=2)
        seen = [job.id async for job in found]
    assert seen == expected_ids
    assert len(server.requests) == expected_requests
    sent = [r.url.params for r in server.requests]
    assert [p["page"] for p in sent] == [str(n) for n in range(1, expected_requests + 1)]
    assert {p["page_size"] for p in sent} == {"2"}
    assert {p["filter[status]"] for p in sent} == {"running"}


async def test_find_jobs_filters_server_side_and_rechecks(
    make_client: Callable[..., V1Client],
) -> None:
    data = [
        *jobs("mine-1", evaljob_uid="u1"),
        *jobs("other", evaljob_uid="u2"),
        *jobs("prefix", evaljob_uid="u10"),
        *jobs("untagged"),
        {"id": "null-fields", "status": "running", "custom_fields": None},
        {"id": "int-value", "status": "running", "custom_fields": {"evaljob_uid": 1}},
        *jobs("mine-2", evaljob_uid="u1", other="x"),
    ]
    server = Recorder(page(data, total_pages=1, size=100))
    async with make_client(server) as client:
        found = await client.find_jobs("evaljob_uid", "u1")
    assert [job.id for job in found] == ["mine-1", "mine-2"]
    assert server.last.url.params["filter[custom_fields][evaljob_uid]"] == "u1"


@pytest.mark.parametrize("field", ["", "a.b", "a[b]"])
async def test_find_jobs_rejects_unencodable_field(
    make_client: Callable[..., V1Client], field: str
) -> None:
    server = Recorder()
    async with make_client(server) as client:
        with pytest.raises(ValueError, match="invalid custom field"):
            await client.find_jobs(field, "u1")
    assert server.requests == []


# --- Retry-After ----------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


async def test_requests_in_flight_are_capped_and_queue_in_order() -> None:
    """A thousand polling timers must queue in the client, not time out in httpx's pool."""
    import asyncio

    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        job_id = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"id": job_id, "status": "running"})

    http = httpx.AsyncClient(base_url="http://nemo.test", transport=httpx.MockTransport(slow))
    client = V1Client(HttpTransport(http, max_in_flight=4))
    jobs = await asyncio.gather(*(client.get_job(f"eval-{n}") for n in range(40)))
    await client.aclose()
    assert [job.id for job in jobs] == [f"eval-{n}" for n in range(40)]
    assert peak == 4

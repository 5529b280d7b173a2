"""Async client for the NeMo Evaluator v1 REST API (configs and jobs).

One small hand-written class over an injected `httpx.AsyncClient`. It never retries: the
operator retries at reconcile level, where it can first check whether a job it may have
created already exists (a blind retry of ``POST /jobs`` would start a second job). It
never logs or echoes request bodies, which can carry model API keys.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from .errors import (
    EvaluatorAPIError,
    EvaluatorConnectionError,
    EvaluatorResponseError,
    EvaluatorTimeoutError,
    api_error,
    flatten_detail,
    truncate,
)
from .models import EvaluationConfig, EvaluationJob, JobPage

__all__ = ["EvaluatorClient", "ResponseObserver", "encode_filters", "parse_retry_after"]

MAX_IN_FLIGHT = 32
"""Requests to NeMo in flight at once per client; the rest wait their turn in order."""

ResponseObserver = Callable[[str, str, int | None, float], None]
"""Called after every request with (method, route template, status or None, seconds)."""

_M = TypeVar("_M", bound=BaseModel)

_HEADERS = {"accept": "application/json", "content-type": "application/json"}
_USER_AGENT = "nemo-evaluator-operator"

HEALTH = "/health"
CONFIGS = "/v1/evaluation/configs"
CONFIG = "/v1/evaluation/configs/{namespace}/{config_name}"
JOBS = "/v1/evaluation/jobs"
JOB = "/v1/evaluation/jobs/{job_id}"
JOB_CANCEL = "/v1/evaluation/jobs/{job_id}/cancel"
JOB_RESULTS = "/v1/evaluation/jobs/{job_id}/results"


class EvaluatorClient:
    """Typed calls to NeMo Evaluator; every failure is an `EvaluatorError` subclass."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        on_response: ResponseObserver | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._http = http
        self._on_response = on_response
        # Requests queue here, not in httpx's pool: a thousand timers polling at once would
        # otherwise wait on pool slots and fail with PoolTimeout (and a cancelled waiter can
        # leak a slot in httpcore 1.0.x), which reads as "NeMo is down" when it is not.
        self._slots = asyncio.Semaphore(max_in_flight)

    @classmethod
    def from_settings(
        cls,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        on_response: ResponseObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """Build a client with its own `httpx.AsyncClient` (`transport` is for tests)."""
        headers = {"user-agent": _USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        verify: ssl.SSLContext | bool = True
        if ca_file:
            verify = ssl.create_default_context(cafile=ca_file)
        http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
            ),
            verify=verify,
            transport=transport,
        )
        return cls(http, on_response=on_response)

    async def aclose(self) -> None:
        """Close the underlying HTTP client and its connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def health(self) -> None:
        """Raise unless ``GET /health`` answers 2xx."""
        await self._request("GET", HEALTH)

    async def create_config(self, body: dict[str, Any]) -> EvaluationConfig:
        """Create a config; a taken (namespace, name) raises `ConflictError`."""
        response = await self._request("POST", CONFIGS, json=body)
        return _parse(EvaluationConfig, response, "POST", CONFIGS)

    async def get_config(self, namespace: str, name: str) -> EvaluationConfig:
        """Read one config by namespace and name."""
        response = await self._request("GET", CONFIG, namespace=namespace, config_name=name)
        return _parse(EvaluationConfig, response, "GET", CONFIG)

    async def update_config(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> EvaluationConfig:
        """PATCH a config with the given fields."""
        response = await self._request(
            "PATCH", CONFIG, json=body, namespace=namespace, config_name=name
        )
        return _parse(EvaluationConfig, response, "PATCH", CONFIG)

    async def delete_config(self, namespace: str, name: str) -> None:
        """Delete a config; a missing one raises `NotFoundError`."""
        await self._request("DELETE", CONFIG, namespace=namespace, config_name=name)

    async def create_job(self, body: dict[str, Any]) -> EvaluationJob:
        """Start a job. Sent exactly once: the service does not deduplicate job creates."""
        response = await self._request("POST", JOBS, json=body)
        return _parse(EvaluationJob, response, "POST", JOBS)

    async def get_job(self, job_id: str) -> EvaluationJob:
        """Read one job, including `status` and `status_details`."""
        response = await self._request("GET", JOB, job_id=job_id)
        return _parse(EvaluationJob, response, "GET", JOB)

    async def list_jobs(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        page: int = 1,
        page_size: int = 100,
        sort: str = "-created_at",
    ) -> JobPage:
        """One page of jobs; filter keys use dots for nesting (``custom_fields.uid``)."""
        params = [*encode_filters(filters or {})]
        params += [("page", str(page)), ("page_size", str(page_size)), ("sort", sort)]
        response = await self._request("GET", JOBS, params=params)
        return _parse(JobPage, response, "GET", JOBS)

    async def iter_jobs(
        self, *, filters: Mapping[str, str] | None = None, page_size: int = 100
    ) -> AsyncIterator[EvaluationJob]:
        """Every job matching `filters`, page by page, until the last page."""
        page = 1
        previous_ids: list[str] | None = None
        while True:
            result = await self.list_jobs(filters=filters, page=page, page_size=page_size)
            ids = [job.id for job in result.data]
            if not ids or ids == previous_ids:  # empty, or a server that ignores `page`
                return
            for job in result.data:
                yield job
            if _is_last_page(result, page, page_size):
                return
            previous_ids = ids
            page += 1

    async def find_jobs(self, custom_field: str, value: str) -> list[EvaluationJob]:
        """Jobs whose ``custom_fields[custom_field] == value``.

        The server filters, and each job is checked again here: a server that ignores the
        filter must not make the operator adopt somebody else's job.
        """
        if not custom_field or "." in custom_field or "[" in custom_field:
            raise ValueError(f"invalid custom field name: {custom_field!r}")
        filters = {f"custom_fields.{custom_field}": value}
        return [
            job
            async for job in self.iter_jobs(filters=filters)
            if job.custom_fields.get(custom_field) == value
        ]

    async def cancel_job(self, job_id: str) -> None:
        """Ask the service to cancel a job (it moves through `cancelling`)."""
        await self._request("POST", JOB_CANCEL, json={}, job_id=job_id)

    async def delete_job(self, job_id: str) -> None:
        """Delete a job record; any 2xx (200 or 204) is success."""
        await self._request("DELETE", JOB, job_id=job_id)

    async def get_results(self, job_id: str) -> dict[str, Any]:
        """The raw results JSON object of a completed job."""
        response = await self._request("GET", JOB_RESULTS, job_id=job_id)
        data = _json(response, "GET", JOB_RESULTS)
        if not isinstance(data, dict):
            raise EvaluatorResponseError(f"GET {JOB_RESULTS} returned a non-object JSON body")
        return data

    async def _send(
        self,
        method: str,
        route: str,
        url: str,
        params: list[tuple[str, str]] | None,
        json: dict[str, Any] | None,
        started: float,
    ) -> httpx.Response:
        """One HTTP exchange; transport failures become EvaluatorConnectionError/TimeoutError."""
        try:
            return await self._http.request(
                method, url, params=tuple(params or ()), json=json, headers=_HEADERS
            )
        except httpx.TimeoutException as exc:
            self._observe(method, route, None, started)
            raise EvaluatorTimeoutError(
                f"{method} {route} timed out: {type(exc).__name__}", method=method, path=route
            ) from exc
        except httpx.RequestError as exc:
            self._observe(method, route, None, started)
            raise EvaluatorConnectionError(
                f"{method} {route} failed: {type(exc).__name__}: {truncate(str(exc))}",
                method=method,
                path=route,
            ) from exc

    async def _request(
        self,
        method: str,
        route: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json: dict[str, Any] | None = None,
        **path_params: str,
    ) -> httpx.Response:
        """Send one request (no retries), report it, and raise on any non-2xx status."""
        url = route.format(**{k: _segment(k, v) for k, v in path_params.items()})
        async with self._slots:
            started = time.monotonic()
            response = await self._send(method, route, url, params, json, started)
        self._observe(method, route, response.status_code, started)
        if not response.is_success:
            raise _error_from(response, method, route)
        return response

    def _observe(self, method: str, route: str, status: int | None, started: float) -> None:
        if self._on_response is not None:
            self._on_response(method, route, status, time.monotonic() - started)


def encode_filters(filters: Mapping[str, str]) -> list[tuple[str, str]]:
    """``{"custom_fields.uid": "u1"}`` -> ``[("filter[custom_fields][uid]", "u1")]``."""
    encoded = []
    for key, value in filters.items():
        parts = key.split(".")
        if not all(parts):
            raise ValueError(f"invalid filter key: {key!r}")
        encoded.append(("filter" + "".join(f"[{part}]" for part in parts), value))
    return encoded


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _segment(name: str, value: str) -> str:
    """URL-quote one path segment; an empty one would silently change the route."""
    if not value:
        raise ValueError(f"{name} must be a non-empty string")
    return quote(value, safe="")


def _is_last_page(page: JobPage, number: int, page_size: int) -> bool:
    """True when pagination says so or, without pagination, when the page is short."""
    if page.pagination is None:
        return len(page.data) < page_size
    total = page.pagination.total_pages
    return total is not None and number >= total


def _error_from(response: httpx.Response, method: str, route: str) -> EvaluatorAPIError:
    """Map a non-2xx response to the typed error, flattening FastAPI's `detail`."""
    try:
        body: Any = response.json()
    except ValueError:
        body = truncate(response.text)
    detail = flatten_detail(body) or response.reason_phrase
    retry_after = None
    if response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    return api_error(
        status_code=response.status_code,
        detail=detail,
        body=body,
        method=method,
        path=route,
        retry_after=retry_after,
    )


def _json(response: httpx.Response, method: str, route: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise EvaluatorResponseError(
            f"{method} {route} returned a body that is not JSON "
            f"(content-type {response.headers.get('content-type', 'none')!r})"
        ) from exc


def _parse(model: type[_M], response: httpx.Response, method: str, route: str) -> _M:
    """Validate a 2xx body; the message names fields, never values (they may be secrets)."""
    try:
        return model.model_validate(_json(response, method, route))
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in err["loc"]) + ": " + err["msg"]
            for err in exc.errors(include_input=False, include_url=False)
        )
        # `from None`: the ValidationError's text quotes the values, e.g. an api_key.
        raise EvaluatorResponseError(
            f"{method} {route} returned an unexpected body: {truncate(problems)}"
        ) from None

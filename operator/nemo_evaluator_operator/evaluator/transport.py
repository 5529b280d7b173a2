"""One HTTP connection pool to the evaluator, shared by both API clients.

It never retries: the operator retries at reconcile level, where it can first check whether a
job it may have created already exists (a blind retry of a job POST could start a second job).
It never logs or echoes request bodies, which can carry model API keys.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
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

__all__ = [
    "MAX_IN_FLIGHT",
    "HttpTransport",
    "ResponseObserver",
    "encode_filters",
    "json_body",
    "parse_model",
    "parse_retry_after",
]

MAX_IN_FLIGHT = 16
"""Requests to the evaluator in flight at once per transport; the rest wait their turn."""

ResponseObserver = Callable[[str, str, int | None, float], None]
"""Called after every request with (method, route template, status or None, seconds)."""

_M = TypeVar("_M", bound=BaseModel)
_HEADERS = {"accept": "application/json", "content-type": "application/json"}
_USER_AGENT = "nemo-evaluator-operator"


class HttpTransport:
    """Send one request, report it, and raise a typed `EvaluatorError` on anything but 2xx."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        on_response: ResponseObserver | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._http = http
        self._on_response = on_response
        # Requests queue here, not in httpx's pool: a thousand pollers at once would otherwise
        # wait on pool slots and fail with PoolTimeout, which reads as "NeMo is down".
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
        max_in_flight: int = MAX_IN_FLIGHT,
        on_response: ResponseObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        """A transport with its own `httpx.AsyncClient` (`transport` is for tests)."""
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
            # As many connections as requests in flight: each waits for a slot, never for a
            # connection. httpx scans its whole pool for every request, so more costs CPU.
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
            verify=verify,
            transport=transport,
        )
        return cls(http, on_response=on_response, max_in_flight=max_in_flight)

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def aclose(self) -> None:
        """Close the underlying HTTP client and its connections."""
        await self._http.aclose()

    async def request(
        self,
        method: str,
        route: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json: Any = None,
        **path_params: str,
    ) -> httpx.Response:
        """Send one request (no retries); raise on any non-2xx status."""
        url = route.format(**{k: _segment(k, v) for k, v in path_params.items()})
        async with self._slots:
            started = time.monotonic()
            response = await self._send(method, route, url, params, json, started)
        self._observe(method, route, response.status_code, started)
        if not response.is_success:
            raise _error_from(response, method, route)
        return response

    async def _send(
        self,
        method: str,
        route: str,
        url: str,
        params: list[tuple[str, str]] | None,
        json: Any,
        started: float,
    ) -> httpx.Response:
        """One exchange; transport failures become EvaluatorConnectionError/TimeoutError."""
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

    def _observe(self, method: str, route: str, status: int | None, started: float) -> None:
        if self._on_response is not None:
            self._on_response(method, route, status, time.monotonic() - started)


def encode_filters(filters: Mapping[str, str], kind: str = "filter") -> list[tuple[str, str]]:
    """``{"custom_fields.uid": "u1"}`` -> ``[("filter[custom_fields][uid]", "u1")]``.

    `kind="search"` gives v1's `search[...]` keys (values comma-joined mean any of them)."""
    encoded = []
    for key, value in filters.items():
        parts = key.split(".")
        if not all(parts):
            raise ValueError(f"invalid {kind} key: {key!r}")
        encoded.append((kind + "".join(f"[{part}]" for part in parts), value))
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


def json_body(response: httpx.Response, method: str, route: str) -> Any:
    """The decoded JSON body of a 2xx answer, or `EvaluatorResponseError`."""
    try:
        return response.json()
    except ValueError as exc:
        raise EvaluatorResponseError(
            f"{method} {route} returned a body that is not JSON "
            f"(content-type {response.headers.get('content-type', 'none')!r})"
        ) from exc


def parse_model(model: type[_M], response: httpx.Response, method: str, route: str) -> _M:
    """Validate a 2xx body; the message names fields, never values (they may be secrets)."""
    try:
        return model.model_validate(json_body(response, method, route))
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in err["loc"]) + ": " + err["msg"]
            for err in exc.errors(include_input=False, include_url=False)
        )
        # `from None`: the ValidationError's text quotes the values, e.g. an api_key.
        raise EvaluatorResponseError(
            f"{method} {route} returned an unexpected body: {truncate(problems)}"
        ) from None

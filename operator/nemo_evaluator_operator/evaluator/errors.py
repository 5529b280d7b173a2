"""Typed errors raised by the NeMo Evaluator client.

The hierarchy is keyed by HTTP status (as in the openai/NVIDIA SDKs) so that callers can
decide between "retry later" and "give up" with `isinstance` or `is_transient` instead of
parsing messages. Messages carry method, route template, status and the server's own
detail, never the request body: job bodies may hold model API keys.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_DETAIL_CHARS",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EvaluatorAPIError",
    "EvaluatorConnectionError",
    "EvaluatorError",
    "EvaluatorResponseError",
    "EvaluatorTimeoutError",
    "ForeignObjectError",
    "InvalidDefinitionError",
    "MissingSecretError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "UnprocessableEntityError",
    "UnsupportedAPIError",
    "WrongAPIError",
    "api_error",
    "flatten_detail",
    "is_transient",
    "truncate",
]

MAX_DETAIL_CHARS = 500
"""Upper bound for `detail` text taken from a response body (keeps messages and logs small)."""

_TRANSIENT_STATUSES = frozenset({408, 429})


class EvaluatorError(Exception):
    """Base class for everything the client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EvaluatorAPIError(EvaluatorError):
    """The service answered with a non-2xx status.

    `body` is the parsed *response* body (JSON, or truncated text). `path` is the route
    template (e.g. ``/v1/evaluation/jobs/{job_id}``), not the concrete URL.
    `retry_after` is set from the Retry-After header on 429 and 503.
    """

    def __init__(
        self,
        *,
        status_code: int,
        detail: str,
        body: Any,
        method: str,
        path: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{method} {path} failed with HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.body = body
        self.method = method
        self.path = path
        self.retry_after = retry_after


class BadRequestError(EvaluatorAPIError):
    """HTTP 400: the service rejected the request semantically."""


class AuthenticationError(EvaluatorAPIError):
    """HTTP 401 or 403: missing, wrong or insufficient credentials."""


class NotFoundError(EvaluatorAPIError):
    """HTTP 404: the config or job does not exist (any more)."""


class ConflictError(EvaluatorAPIError):
    """HTTP 409: e.g. a config name already taken in its namespace."""


class UnprocessableEntityError(EvaluatorAPIError):
    """HTTP 422: the request failed schema validation."""


class RateLimitedError(EvaluatorAPIError):
    """HTTP 429: slow down; `retry_after` says for how long when the server told us."""


class ServerError(EvaluatorAPIError):
    """HTTP 5xx: the service (or a gateway in front of it) failed."""


class EvaluatorConnectionError(EvaluatorError):
    """The request never got an HTTP answer (DNS, refused, reset, TLS, ...)."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class EvaluatorTimeoutError(EvaluatorConnectionError):
    """Connecting, writing or reading took longer than the configured timeout."""


class EvaluatorResponseError(EvaluatorError):
    """A 2xx answer whose body is not the JSON shape the API documents."""


class UnsupportedAPIError(EvaluatorError):
    """The evaluator URL serves neither API the operator speaks (or not the one configured)."""


class WrongAPIError(EvaluatorError):
    """The object is written for the other evaluator API than the one this operator talks to."""


class ForeignObjectError(EvaluatorError):
    """A NeMo object with our deterministic name exists but was not created for this owner."""


class InvalidDefinitionError(EvaluatorError):
    """A definition the adapter cannot turn into a request (e.g. a metric it cannot bundle)."""


class MissingSecretError(EvaluatorError):
    """The evaluator says a secret the request references does not exist (Helix answers 409)."""


_STATUS_CLASSES: dict[int, type[EvaluatorAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitedError,
}


def api_error(
    *,
    status_code: int,
    detail: str,
    body: Any,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> EvaluatorAPIError:
    """Build the error subclass that matches `status_code` (other 4xx get the base class)."""
    cls = ServerError if status_code >= 500 else _STATUS_CLASSES.get(status_code, EvaluatorAPIError)
    return cls(
        status_code=status_code,
        detail=detail,
        body=body,
        method=method,
        path=path,
        retry_after=retry_after,
    )


def is_transient(err: EvaluatorError) -> bool:
    """Whether retrying the same call later may succeed (429, 408, 5xx, network, timeout)."""
    if isinstance(err, EvaluatorConnectionError):
        return True
    if isinstance(err, EvaluatorAPIError):
        return err.status_code in _TRANSIENT_STATUSES or err.status_code >= 500
    return False


def truncate(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def flatten_detail(body: Any) -> str:
    """Readable text from a FastAPI error body (``{"detail": str | [{loc, msg, type}]}``).

    Validation items keep only `loc` and `msg`: FastAPI also echoes the offending `input`,
    which may be the API key we sent.
    """
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(body, dict) and detail is None:
        detail = next((body[k] for k in ("message", "error") if isinstance(body.get(k), str)), body)
    if detail is None or detail in ("", [], {}):
        return ""
    if isinstance(detail, str):
        return truncate(detail)
    if isinstance(detail, list):
        return truncate("; ".join(_flatten_item(item) for item in detail))
    return truncate(json.dumps(detail, default=str))


def _flatten_item(item: Any) -> str:
    """``{"loc": ["body", "config", "type"], "msg": "..."}`` -> ``body.config.type: ...``."""
    if not isinstance(item, dict):
        return str(item)
    msg = str(item.get("msg", "invalid value"))
    loc = item.get("loc")
    if isinstance(loc, list | tuple) and loc:
        return ".".join(str(part) for part in loc) + ": " + msg
    return msg

"""Evaluator error helpers: status -> class, transience, FastAPI detail flattening."""

from __future__ import annotations

from typing import Any

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
    api_error,
    flatten_detail,
    is_transient,
    truncate,
)


def http_error(status: int) -> EvaluatorAPIError:
    return api_error(status_code=status, detail="d", body=None, method="GET", path="/p")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (405, EvaluatorAPIError),
        (408, EvaluatorAPIError),
        (409, ConflictError),
        (410, EvaluatorAPIError),
        (422, UnprocessableEntityError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (599, ServerError),
        (302, EvaluatorAPIError),
    ],
)
def test_api_error_class(status: int, cls: type[EvaluatorAPIError]) -> None:
    assert type(http_error(status)) is cls


TRANSIENCE: list[tuple[str, EvaluatorError, bool]] = [
    *[(str(status), http_error(status), False) for status in (400, 401, 403, 404, 409, 422)],
    *[(str(status), http_error(status), True) for status in (408, 429, 500, 502, 503, 504)],
    ("connection", EvaluatorConnectionError("refused", method="GET", path="/p"), True),
    ("timeout", EvaluatorTimeoutError("slow", method="GET", path="/p"), True),
    ("bad-response", EvaluatorResponseError("not JSON"), False),
    ("base", EvaluatorError("other"), False),
]


@pytest.mark.parametrize(
    ("err", "transient"), [case[1:] for case in TRANSIENCE], ids=[case[0] for case in TRANSIENCE]
)
def test_is_transient(err: EvaluatorError, transient: bool) -> None:
    assert is_transient(err) is transient


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"detail": "Job not found"}, "Job not found"),
        (
            {"detail": [{"loc": ["body", "config", "type"], "msg": "field required"}]},
            "body.config.type: field required",
        ),
        (
            {"detail": [{"loc": ["query", "page", 0], "msg": "bad"}, {"msg": "no loc"}, "plain"]},
            "query.page.0: bad; no loc; plain",
        ),
        ({"detail": [{"loc": ["body"], "msg": "m", "input": {"api_key": "sk-x"}}]}, "body: m"),
        ({"detail": {"code": 7}}, '{"code": 7}'),
        ({"message": "from a gateway"}, "from a gateway"),
        ({"error": "from elsewhere"}, "from elsewhere"),
        ({"unexpected": 1}, '{"unexpected": 1}'),
        ({"detail": ""}, ""),
        ({"detail": []}, ""),
        ("plain text body", "plain text body"),
        ("", ""),
        (None, ""),
        ("y" * 600, "y" * 499 + "…"),
    ],
    ids=[
        "string", "validation", "validation-mixed", "validation-drops-input", "object",
        "message", "error", "unknown-object", "empty-string", "empty-list", "text", "empty-text",
        "none", "long-text",
    ],
)  # fmt: skip
def test_flatten_detail(body: Any, expected: str) -> None:
    assert flatten_detail(body) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abc", 5, "abc"), ("abcdef", 5, "abcd…"), ("  ab  ", 5, "ab"), ("abcde", 5, "abcde")],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def test_api_error_message_and_attributes() -> None:
    err = api_error(
        status_code=429,
        detail="slow down",
        body={"detail": "slow down"},
        method="POST",
        path="/v1/evaluation/jobs",
        retry_after=3.0,
    )
    assert str(err) == "POST /v1/evaluation/jobs failed with HTTP 429: slow down"
    assert err.message == str(err)
    assert (err.status_code, err.detail, err.retry_after) == (429, "slow down", 3.0)
    assert err.body == {"detail": "slow down"}

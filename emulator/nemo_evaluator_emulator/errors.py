"""HTTP errors in FastAPI's `{"detail": ...}` shape, and the handlers that render them."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

__all__ = ["ApiError", "body_errors", "install_error_handlers", "validation_error"]


class ApiError(Exception):
    """A client-visible error: status code, `detail` text and optional headers."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def validation_error(loc: tuple[str | int, ...], msg: str, kind: str, value: object) -> Exception:
    """A 422 with the same body FastAPI produces for schema violations."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind, "input": value}])


def body_errors(exc: ValidationError, *prefix: str | int) -> RequestValidationError:
    """Re-home a model's validation errors under `body` (plus `prefix`) as a FastAPI 422."""
    errors = [{**e, "loc": ("body", *prefix, *e["loc"])} for e in exc.errors(include_url=False)]
    return RequestValidationError(errors)


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)


async def _unexpected(_: Request, exc: Exception) -> Response:
    # Never leak a traceback to clients; the server log still has it.
    return JSONResponse({"detail": f"Internal error: {type(exc).__name__}"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _unexpected)

"""How an error from NeMo Evaluator is reported and whether it is worth retrying."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..constants import Reason
from ..evaluator.errors import (
    BadRequestError,
    EvaluatorAPIError,
    EvaluatorConnectionError,
    EvaluatorError,
    EvaluatorTimeoutError,
    UnprocessableEntityError,
    is_transient,
)

__all__ = ["Failure", "FailureKind", "classify", "redact"]


class FailureKind(StrEnum):
    """Retry policy for a failure."""

    TRANSIENT = "Transient"  # NeMo down, 5xx, 429, timeouts: retry with backoff
    REJECTED = "Rejected"  # NeMo said the request is wrong (400/422): retrying cannot help
    OTHER = "Other"  # anything else (401/403/unexpected 4xx): retry slowly, say why


@dataclass(frozen=True)
class Failure:
    """A classified failure, ready to become a condition."""

    kind: FailureKind
    reason: str
    message: str


def classify(err: EvaluatorError, action: str) -> Failure:
    """Turn a client error into a condition reason and a message that quotes NeMo."""
    if isinstance(err, BadRequestError | UnprocessableEntityError):
        return Failure(
            FailureKind.REJECTED, "", f"NeMo Evaluator rejected {action}: {_detail(err)}"
        )
    if is_transient(err):
        return Failure(
            FailureKind.TRANSIENT,
            Reason.EVALUATOR_UNAVAILABLE,
            f"NeMo Evaluator unavailable while trying to {action}: {_detail(err)}",
        )
    return Failure(
        FailureKind.OTHER,
        Reason.EVALUATOR_ERROR,
        f"NeMo Evaluator error on {action}: {_detail(err)}",
    )


def _detail(err: EvaluatorError) -> str:
    if isinstance(err, EvaluatorAPIError):
        return f"HTTP {err.status_code}: {err.detail}"
    if isinstance(err, EvaluatorTimeoutError):
        return f"timed out ({err.message})"
    if isinstance(err, EvaluatorConnectionError):
        return f"connection failed ({err.message})"
    return err.message


def redact(text: str, secrets: list[str]) -> str:
    """Remove secret values from text that may have been echoed back by NeMo."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text

"""How an evaluator error is reported (reason, message quoting NeMo) and whether to retry."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..constants import Reason
from ..evaluator.errors import (
    AuthenticationError,
    BadRequestError,
    EvaluatorAPIError,
    EvaluatorConnectionError,
    EvaluatorError,
    EvaluatorTimeoutError,
    ForeignObjectError,
    InvalidDefinitionError,
    MissingSecretError,
    UnprocessableEntityError,
    UnsupportedAPIError,
    WrongAPIError,
    is_transient,
)

__all__ = ["Failure", "FailureKind", "classify", "redact"]


class FailureKind(StrEnum):
    """Retry policy for a failure."""

    TRANSIENT = "Transient"  # NeMo down, 5xx, 429, timeouts: retry with backoff
    REJECTED = "Rejected"  # the request is wrong (400/422, a bad definition): retrying cannot help
    STALLED = "Stalled"  # cannot go on until someone acts (auth, unsupported API): retry slowly
    OTHER = "Other"  # anything else (an unexpected 4xx): retry slowly, say why


@dataclass(frozen=True)
class Failure:
    """A classified failure, ready to become a condition (`reason` is never empty)."""

    kind: FailureKind
    reason: str
    message: str
    retry_after: float | None = None  # what the server asked for (Retry-After), if anything


def classify(
    err: EvaluatorError, action: str, rejected: str = Reason.EVALUATOR_REJECTED
) -> Failure:
    """Turn an evaluator error into a reason and a message that quotes the evaluator.

    `rejected` is the reason for a definitive refusal of this action (e.g. `InvalidConfig` for
    a Benchmark, `SubmissionRejected` for a job).
    """
    detail = _detail(err)
    if isinstance(err, UnsupportedAPIError):
        return Failure(FailureKind.STALLED, Reason.UNSUPPORTED_API, detail)
    if isinstance(err, WrongAPIError):
        return Failure(FailureKind.REJECTED, Reason.WRONG_API, detail)
    if isinstance(err, InvalidDefinitionError):
        return Failure(FailureKind.REJECTED, rejected, detail)
    if isinstance(err, ForeignObjectError):
        return Failure(FailureKind.REJECTED, Reason.FOREIGN_OBJECT, detail)
    if isinstance(err, MissingSecretError):
        return Failure(FailureKind.STALLED, Reason.EVALUATOR_SECRET_MISSING, detail)
    if isinstance(err, AuthenticationError):
        message = f"NeMo Evaluator refused the credentials on {action}: {detail}"
        return Failure(FailureKind.STALLED, Reason.EVALUATOR_AUTH_FAILED, message)
    if isinstance(err, BadRequestError | UnprocessableEntityError):
        return Failure(
            FailureKind.REJECTED, rejected, f"NeMo Evaluator rejected {action}: {detail}"
        )
    if is_transient(err):
        retry_after = err.retry_after if isinstance(err, EvaluatorAPIError) else None
        return Failure(
            FailureKind.TRANSIENT,
            Reason.EVALUATOR_UNAVAILABLE,
            f"NeMo Evaluator unavailable while trying to {action}: {detail}",
            retry_after=retry_after,
        )
    return Failure(
        FailureKind.OTHER, Reason.EVALUATOR_ERROR, f"NeMo Evaluator error on {action}: {detail}"
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

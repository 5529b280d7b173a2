"""NeMo Evaluator REST client: knows HTTP and the v1 API, nothing about Kubernetes or kopf."""

from .client import EvaluatorClient, ResponseObserver
from .errors import (
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
    is_transient,
)
from .models import (
    EvaluationConfig,
    EvaluationJob,
    JobPage,
    JobStatus,
    Pagination,
    StatusDetails,
)

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EvaluationConfig",
    "EvaluationJob",
    "EvaluatorAPIError",
    "EvaluatorClient",
    "EvaluatorConnectionError",
    "EvaluatorError",
    "EvaluatorResponseError",
    "EvaluatorTimeoutError",
    "JobPage",
    "JobStatus",
    "NotFoundError",
    "Pagination",
    "RateLimitedError",
    "ResponseObserver",
    "ServerError",
    "StatusDetails",
    "UnprocessableEntityError",
    "is_transient",
]

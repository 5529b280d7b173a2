"""Response models of the NeMo Microservices v1 evaluation API, in the API's own snake_case names.

The models are deliberately tolerant: extra fields are kept (`extra="allow"`), `null`
where we expect an object or map becomes empty, and a job status we have never heard of
is kept as its raw string (the state tables map it to `JobState.UNKNOWN`). A newer service
version must not crash the operator.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "ConfigPage",
    "EvaluationConfig",
    "EvaluationJob",
    "JobPage",
    "Pagination",
    "StatusDetails",
]


class _ApiModel(BaseModel):
    """Base for API models: keep unknown fields so nothing the server sends is lost."""

    model_config = ConfigDict(extra="allow")


def _dict_if_none(value: Any) -> Any:
    """Treat an explicit JSON `null` like an absent map."""
    return {} if value is None else value


def _list_if_none(value: Any) -> Any:
    """Treat an explicit JSON `null` like an empty list."""
    return [] if value is None else value


_Fields = Annotated[dict[str, Any], BeforeValidator(_dict_if_none)]


class StatusDetails(_ApiModel):
    """`status_details` of a job (also the body of ``GET /jobs/{id}/status``)."""

    message: str | None = None
    progress: float | None = None
    """Percent 0-100; the service computes it only when `limit_samples` is set."""
    samples_processed: int | None = None
    task_status: Annotated[dict[str, str], BeforeValidator(_dict_if_none)] = {}
    """Per-task state: pending, running, completed or failed."""


class EvaluationJob(_ApiModel):
    """A v1 evaluation job as the service returns it."""

    id: str
    namespace: str | None = None
    status: str = "unknown"
    """Raw status string (see `states.STATES["v1"]`)."""
    status_details: Annotated[StatusDetails, BeforeValidator(_dict_if_none)] = Field(
        default_factory=StatusDetails
    )
    custom_fields: _Fields = {}
    created_at: str | None = None
    updated_at: str | None = None
    config: dict[str, Any] | str | None = None
    target: dict[str, Any] | str | None = None
    result: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> str:
        """Accept any status value, including null and non-strings, as text."""
        return "unknown" if value is None else str(value)


class EvaluationConfig(_ApiModel):
    """A v1 evaluation config (`type` is the only field the service requires)."""

    id: str | None = None
    name: str | None = None
    namespace: str | None = None
    type: str
    params: dict[str, Any] | None = None
    tasks: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None
    custom_fields: _Fields = {}


class Pagination(_ApiModel):
    """Paging block of every list response."""

    page: int
    page_size: int
    current_page_size: int | None = None
    total_pages: int | None = None
    total_results: int | None = None


class JobPage(_ApiModel):
    """One page of ``GET /v1/evaluation/jobs``."""

    data: Annotated[list[EvaluationJob], BeforeValidator(_list_if_none)] = []
    pagination: Pagination | None = None


class ConfigPage(_ApiModel):
    """One page of ``GET /v1/evaluation/configs``."""

    data: Annotated[list[EvaluationConfig], BeforeValidator(_list_if_none)] = []
    pagination: Pagination | None = None

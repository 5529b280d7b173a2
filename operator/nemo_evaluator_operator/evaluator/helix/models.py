"""Response models of NeMo Helix Evals 0.8, in the API's own names, tolerant of additions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = ["EvaluationDetails", "HelixJob", "HelixJobPage", "HelixJobStatus"]


def _dict_if_none(value: Any) -> Any:
    return {} if value is None else value


def _list_if_none(value: Any) -> Any:
    return [] if value is None else value


class _ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class EvaluationDetails(_ApiModel):
    """`status_details.evaluation`: row counts, reported when the evaluation ends."""

    unit: str | None = None
    total: int | None = None
    scored: int | None = None
    errored: int | None = None
    message: str | None = None


class StatusDetails(_ApiModel):
    """`status_details` of a job; only the fields the operator reads are typed."""

    message: str | None = None
    evaluation: EvaluationDetails | None = None


class HelixJob(_ApiModel):
    """An evaluate job as `GET .../evaluate/jobs/{name}` and the list return it."""

    id: str | None = None
    name: str
    workspace: str | None = None
    status: str = "unknown"
    status_details: Annotated[StatusDetails, BeforeValidator(_dict_if_none)] = Field(
        default_factory=StatusDetails
    )
    custom_fields: Annotated[dict[str, Any], BeforeValidator(_dict_if_none)] = {}
    created_at: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> str:
        return "unknown" if value is None else str(value)


class TaskStatus(_ApiModel):
    error_stack: str | None = None


class StepStatus(_ApiModel):
    tasks: Annotated[list[TaskStatus], BeforeValidator(_list_if_none)] = []


class HelixJobStatus(_ApiModel):
    """`GET .../status`: the job's status plus its steps and tasks (where errors are told)."""

    status: str | None = None
    status_details: Annotated[StatusDetails, BeforeValidator(_dict_if_none)] = Field(
        default_factory=StatusDetails
    )
    steps: Annotated[list[StepStatus], BeforeValidator(_list_if_none)] = []


class Pagination(_ApiModel):
    page: int | None = None
    page_size: int | None = None
    total_pages: int | None = None


class HelixJobPage(_ApiModel):
    """One page of a job list (`total_results` is unreliable with a status filter)."""

    data: Annotated[list[HelixJob], BeforeValidator(_list_if_none)] = []
    pagination: Pagination | None = None

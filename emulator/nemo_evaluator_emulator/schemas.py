"""Request bodies, mirroring the models of NVIDIA's SDK (nemo-microservices 1.5.0).

Top-level entity bodies ignore unknown fields, as a default FastAPI/pydantic service does;
nested objects the emulator models only in part keep their extra fields so nothing a client sent
is lost when it is echoed back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "APIEndpoint",
    "AdvanceRequest",
    "CachedOutputs",
    "ConfigCreate",
    "ConfigUpdate",
    "DatasetEv",
    "EvaluationParams",
    "FailNextRequest",
    "FaultCreate",
    "ForceRequest",
    "GroupConfig",
    "JobControl",
    "JobCreate",
    "MetricConfig",
    "ModelEv",
    "OutageRequest",
    "ResetRequest",
    "ResultCreate",
    "ResultUpdate",
    "TargetCreate",
    "TargetType",
    "TargetUpdate",
    "TaskConfig",
]

TargetType = Literal["model", "cached_outputs", "retriever", "rag", "rows", "dataset"]
JobStatus = Literal[
    "created",
    "pending",
    "running",
    "cancelled",
    "cancelling",
    "failed",
    "completed",
    "ready",
    "unknown",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class _Entity(BaseModel):
    """Fields every NeMo entity carries; the server fills id and timestamps."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    name: str | None = None
    namespace: str | None = None
    project: str | None = None
    description: str | None = None
    custom_fields: dict[str, Any] | None = None
    ownership: dict[str, Any] | None = None


class EvaluationParams(_Open):
    parallelism: int | None = None
    limit_samples: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    max_retries: int | None = None
    request_timeout: int | None = None
    extra: dict[str, Any] | None = None


class MetricConfig(_Open):
    type: str
    params: dict[str, Any] | None = None


class DatasetEv(_Open):
    files_url: str
    format: str | None = None
    split: str | None = None
    limit: int | None = None


class TaskConfig(_Open):
    type: str
    params: dict[str, Any] | None = None
    dataset: str | DatasetEv | None = None
    metrics: dict[str, MetricConfig] | None = None


class GroupConfig(_Open):
    tasks: list[str] | None = None
    metrics: dict[str, MetricConfig] | None = None
    groups: dict[str, Any] | None = None


class ConfigCreate(_Entity):
    type: str
    params: EvaluationParams | None = None
    tasks: dict[str, TaskConfig] | None = None
    groups: dict[str, GroupConfig] | None = None


class ConfigUpdate(_Entity):
    type: str | None = None
    params: EvaluationParams | None = None
    tasks: dict[str, TaskConfig] | None = None
    groups: dict[str, GroupConfig] | None = None


class APIEndpoint(_Open):
    url: str
    model_id: str
    api_key: str | None = None
    format: Literal["nim", "openai", "lama_stack"] | None = None


class ModelEv(_Open):
    api_endpoint: APIEndpoint | None = None


class CachedOutputs(_Open):
    files_url: str


class TargetCreate(_Entity):
    type: TargetType
    model: str | ModelEv | None = None
    dataset: str | DatasetEv | None = None
    cached_outputs: CachedOutputs | None = None
    rows: list[dict[str, Any]] | None = None
    rag: dict[str, Any] | None = None
    retriever: dict[str, Any] | None = None


class TargetUpdate(_Entity):
    type: TargetType | None = None
    model: str | ModelEv | None = None
    dataset: str | DatasetEv | None = None
    cached_outputs: CachedOutputs | None = None
    rows: list[dict[str, Any]] | None = None
    rag: dict[str, Any] | None = None
    retriever: dict[str, Any] | None = None


class JobCreate(_Entity):
    """`config`/`target` are `"namespace/name"` references or inline objects.

    `status` and `status_details` are in NVIDIA's schema but server-owned: accepted and ignored.
    """

    config: str | ConfigCreate
    target: str | TargetCreate
    output_files_url: str | None = None
    result: str | None = None
    status: JobStatus | None = None
    status_details: dict[str, Any] | None = None


class ResultCreate(_Entity):
    job: str
    files_url: str | None = None
    tasks: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None


class ResultUpdate(_Entity):
    job: str | None = None
    files_url: str | None = None
    tasks: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None


class FaultCreate(BaseModel):
    """One fault rule for the control API (see faults.py)."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = "*"
    status: int | None = Field(default=None, ge=100, le=599)
    probability: float | None = Field(default=None, ge=0, le=1)
    count: int | None = Field(default=None, ge=1)
    latency_seconds: float = Field(default=0.0, ge=0, le=600)
    latency_after_seconds: float = Field(default=0.0, ge=0, le=600)
    drop_after: bool = False
    should_retry: bool | None = None
    retry_after: float | None = Field(default=None, ge=0)
    drop: bool = False
    detail: str | None = None


class JobControl(BaseModel):
    """Per-job overrides for the control API."""

    model_config = ConfigDict(extra="forbid")

    phase_seconds: dict[str, float] | None = None
    results_padding_bytes: int | None = Field(default=None, ge=0)


class FailNextRequest(BaseModel):
    """Make the next `count` created jobs fail with `message` during `phase`."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1)
    message: str = "Error connecting to inference server"
    phase: Literal["pending", "running"] = "running"


class OutageRequest(BaseModel):
    """Every non-control request fails for `seconds`: `status` answers it or `drop` cuts it."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(gt=0, le=3600)
    mode: Literal["status", "drop"] = "status"
    status: int = Field(default=503, ge=400, le=599)


class AdvanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0)


class ForceRequest(BaseModel):
    """End an active job now."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["completed", "failed", "cancelled"]
    message: str | None = None


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_data: bool = False

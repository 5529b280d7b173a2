"""Model of the Benchmark custom resource (``benchmarks.evaluator.nemo.dev``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .common import CamelModel, Condition, ObjectMeta

__all__ = [
    "Benchmark",
    "BenchmarkConfig",
    "BenchmarkSpec",
    "BenchmarkStatus",
    "Leaderboard",
    "LeaderboardEntry",
    "LeaderboardOrder",
]


class BenchmarkConfig(BaseModel):
    """A NeMo Evaluator evaluation config, in NeMo's own snake_case names.

    Not camel-aliased: users copy these from NVIDIA's docs and the operator sends them as written.
    Extra keys are kept so nothing the user wrote is silently lost on the way to NeMo (the CRD
    schema prunes unknown keys, so in practice only type/params/tasks/groups arrive).
    """

    model_config = ConfigDict(extra="allow")

    type: str
    params: dict[str, Any] | None = None
    tasks: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None

    def to_nemo(self) -> dict[str, Any]:
        """Return the config body fields for the NeMo API (None dropped, extras included)."""
        return self.model_dump(mode="json", exclude_none=True)


class LeaderboardOrder(StrEnum):
    """desc: the highest score ranks first; asc: the lowest (a loss, an error rate)."""

    DESC = "desc"
    ASC = "asc"


class Leaderboard(CamelModel):
    """Which score ranks the models on this Benchmark (default: the first score name)."""

    metric: str | None = None
    order: LeaderboardOrder = LeaderboardOrder.DESC


class LeaderboardEntry(CamelModel):
    """One model's place: its latest Succeeded run on the current config."""

    model: str
    eval_job: str
    score: float
    completed_at: str | None = None


class BenchmarkSpec(CamelModel):
    """Desired state: a v1 evaluation config or a Helix evaluation definition (one of them).

    `evaluation` is NeMo Helix's evaluate-job spec without its target (metrics, dataset,
    prompt_template, params, field_mapping), kept as written, in Helix's own names.
    """

    evaluator_namespace: str | None = None
    config: BenchmarkConfig | None = None
    evaluation: dict[str, Any] | None = None
    leaderboard: Leaderboard | None = None

    @property
    def api(self) -> Literal["v1", "helix"]:
        """Which evaluator API the spec is written for."""
        return "helix" if self.evaluation is not None else "v1"

    def definition(self) -> dict[str, Any]:
        """The part sent to the evaluator, as written."""
        if self.evaluation is not None:
            return self.evaluation
        return self.config.to_nemo() if self.config is not None else {}


class BenchmarkStatus(CamelModel):
    """Observed state written by the operator."""

    observed_generation: int | None = None
    evaluator_api: str | None = Field(default=None, alias="evaluatorAPI")
    evaluator_namespace: str | None = None
    config_name: str | None = None
    config_hash: str | None = None
    score_names: list[str] | None = None
    conditions: list[Condition] = []
    eval_jobs: int | None = None
    leaderboard: list[LeaderboardEntry] | None = None
    leaderboard_metric: str | None = None
    leaderboard_top: str | None = None


class Benchmark(CamelModel):
    """A Benchmark object as read from the API server."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: BenchmarkSpec
    status: BenchmarkStatus = Field(default_factory=BenchmarkStatus)

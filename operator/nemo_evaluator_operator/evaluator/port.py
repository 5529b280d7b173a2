"""The evaluator port: what the reconcilers need from a NeMo evaluator, whichever API it speaks.

A leaf module (types only): the reconcilers depend on these, and each adapter (`v1`, `helix`)
implements `EvaluatorPort` over its own REST API. Nothing here knows Kubernetes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

__all__ = [
    "BenchmarkDefinition",
    "BenchmarkSync",
    "BenchmarkSyncResult",
    "EvaluatorAPI",
    "EvaluatorPort",
    "JobBatch",
    "JobObservation",
    "JobRef",
    "JobResults",
    "JobState",
    "Owner",
    "ScoreStats",
    "SubmitRequest",
]

EvaluatorAPI = Literal["v1", "helix"]
"""NeMo Microservices v1 (`/v1/evaluation`) or NeMo Helix Evals (`/apis/evals/v2`)."""


class JobState(StrEnum):
    """A job's state in the operator's terms; each adapter maps its API's states onto these."""

    QUEUED = "Queued"
    RUNNING = "Running"
    CANCELLING = "Cancelling"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Owner:
    """The Kubernetes object a NeMo object belongs to (tagged into NeMo's `custom_fields`)."""

    uid: str
    namespace: str
    name: str


@dataclass(frozen=True)
class JobRef:
    """Where a job lives: its NeMo namespace (v1) or workspace (Helix), and its id or name."""

    namespace: str
    job_id: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.job_id}"


@dataclass(frozen=True)
class JobObservation:
    """One look at a job: its state and whatever progress the evaluator reported."""

    ref: JobRef
    state: JobState
    raw_state: str
    message: str | None = None
    progress: float | None = None
    samples_processed: int | None = None
    task_status: Mapping[str, str] = field(default_factory=dict)
    created_at: str | None = None
    owner_uid: str | None = None
    adopted: bool = False  # set by `submit` when the job already existed under our key


@dataclass(frozen=True)
class JobBatch:
    """One batched look at many jobs: what was seen, what does not exist, what could not be
    read this time (a transient error for that job alone)."""

    jobs: Mapping[JobRef, JobObservation] = field(default_factory=dict)
    missing: frozenset[JobRef] = frozenset()
    failed: Mapping[JobRef, Exception] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreStats:
    """What the evaluator reports about one score besides its value (for baselines)."""

    count: int | None = None
    std_dev: float | None = None
    std_err: float | None = None


@dataclass(frozen=True)
class JobResults:
    """A finished job's results: flat scores (`task.metric.score` on v1, `metric.output` on
    Helix) for status and gates, and the evaluator's own document, stored unchanged."""

    scores: dict[str, float]
    document: dict[str, Any]
    stats: dict[str, ScoreStats] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkDefinition:
    """What a Benchmark asks of the evaluator: a v1 config or a Helix evaluation definition."""

    api: EvaluatorAPI
    namespace: str  # NeMo namespace (v1) or Helix workspace
    name: str  # the v1 config name (deterministic); informational on Helix
    body: dict[str, Any]  # spec.config (v1) or spec.evaluation (Helix), as written
    owner: Owner

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class BenchmarkSync(StrEnum):
    """What syncing a Benchmark did."""

    CREATED = "Created"
    UPDATED = "Updated"
    UNCHANGED = "Unchanged"
    VALIDATED = "Validated"  # Helix: nothing stored, the definition was checked by the server


@dataclass(frozen=True)
class BenchmarkSyncResult:
    """The outcome of a sync, and the score names jobs will report (when the API says)."""

    change: BenchmarkSync
    score_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmitRequest:
    """Everything needed to start one evaluation job for one EvalJob."""

    namespace: str
    owner: Owner
    benchmark: BenchmarkDefinition
    target: dict[str, Any]
    api_key: str | None = None


class EvaluatorPort(Protocol):
    """One evaluator API, as the reconcilers use it. Errors are `EvaluatorError`s."""

    @property
    def api(self) -> EvaluatorAPI: ...

    @property
    def idempotent_submit(self) -> bool:
        """True when posting the same submission twice cannot create a second job."""
        ...

    def job_id_for(self, owner: Owner) -> str | None:
        """The job id a submission for `owner` will get, when the API lets us choose it."""
        ...

    def target_problem(self, target: dict[str, Any]) -> str | None:
        """Why an EvalJob's target cannot be sent to this API (None when it can)."""
        ...

    async def sync_benchmark(self, definition: BenchmarkDefinition) -> BenchmarkSyncResult: ...
    async def delete_benchmark(self, definition: BenchmarkDefinition) -> None: ...
    async def submit(self, request: SubmitRequest) -> JobObservation: ...
    async def find_jobs(self, namespace: str, owner: Owner) -> Sequence[JobObservation]: ...
    async def observe(self, ref: JobRef) -> JobObservation:
        """One job, read directly (`NotFoundError` when it does not exist)."""
        ...

    async def observe_many(self, refs: Collection[JobRef]) -> JobBatch:
        """Many jobs in as few requests as the API allows.

        Raises only when nothing could be read (the evaluator is down).
        """
        ...

    async def drifted(self, definitions: Collection[BenchmarkDefinition]) -> set[str]:
        """The refs of stored definitions the evaluator no longer holds as written."""
        ...

    async def cancel(self, ref: JobRef) -> None: ...
    async def delete(self, ref: JobRef) -> None: ...
    async def results(self, ref: JobRef) -> JobResults: ...
    async def release(self, namespace: str, owner: Owner) -> None:
        """Remove what a submission left besides the job (e.g. a Helix secret); idempotent."""
        ...

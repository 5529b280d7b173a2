"""Model of the EvalJob custom resource (``evaljobs.evaluator.nemo.dev``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from .common import CamelModel, Condition, LocalObjectReference, ObjectMeta, SecretKeySelector

__all__ = [
    "BaselineRecord",
    "BaselineRef",
    "Better",
    "CriterionResult",
    "DeletionPolicy",
    "EvalJob",
    "EvalJobPhase",
    "EvalJobSpec",
    "EvalJobStatus",
    "LabelSelector",
    "LabelSelectorRequirement",
    "NoiseWidening",
    "PassCriterion",
    "ResultsRef",
]


class EvalJobPhase(StrEnum):
    """Coarse lifecycle summary shown in ``kubectl get ej``; conditions carry the detail."""

    PENDING = "Pending"
    SUBMITTED = "Submitted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the NeMo job can no longer change, so polling stops."""
        return self in _TERMINAL_PHASES


_TERMINAL_PHASES = frozenset({EvalJobPhase.SUCCEEDED, EvalJobPhase.FAILED, EvalJobPhase.CANCELLED})


class DeletionPolicy(StrEnum):
    """What happens to the NeMo job when the EvalJob is deleted."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class LabelSelectorRequirement(CamelModel):
    """One ``matchExpressions`` entry of a ``metav1.LabelSelector``."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist (the CRD's enum)
    values: list[str] | None = None


class LabelSelector(CamelModel):
    """A ``metav1.LabelSelector``; empty matches every EvalJob."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class BaselineRef(CamelModel):
    """The run to compare with: a named EvalJob, or the latest Succeeded one on the same
    Benchmark whose labels match (exactly one of the two; the CRD enforces it)."""

    eval_job: str | None = None
    selector: LabelSelector | None = None


class NoiseWidening(CamelModel):
    """Widen the allowed drop by this many standard errors of the difference of the means."""

    sigmas: float = 2.0


class Better(StrEnum):
    """Which direction of a score is an improvement; a drop is a move the other way."""

    HIGHER = "Higher"
    LOWER = "Lower"


class PassCriterion(CamelModel):
    """A quality-gate bound on one metric path (e.g. ``qa.bleu.sentence``) of the results:
    ``min``/``max``, or a largest drop from a baseline run (``maxDrop`` or ``maxRelativeDrop``)."""

    metric: str
    min: float | None = None
    max: float | None = None
    baseline: BaselineRef | None = None
    max_drop: float | None = None
    max_relative_drop: float | None = None
    noise: NoiseWidening | None = None
    better: Better | None = None  # None: Higher


class EvalJobSpec(CamelModel):
    """Desired state; immutable after creation except ``cancel`` (enforced by CEL in the CRD)."""

    benchmark_ref: LocalObjectReference
    target: dict[str, Any]
    api_key_secret_ref: SecretKeySelector | None = None
    cancel: bool = False
    active_deadline_seconds: int | None = None
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    pass_criteria: list[PassCriterion] = []


class ResultsRef(CamelModel):
    """Where the full results JSON lives: an index ConfigMap and the parts in order."""

    config_map: str
    parts: list[str] = []
    size_bytes: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class BaselineRecord(CamelModel):
    """The baseline a criterion was judged against, as it was then (so a re-evaluation reuses
    it instead of resolving the selector again)."""

    eval_job: str
    uid: str
    value: float | None = None
    std_err: float | None = None
    config_hash: str | None = None


class CriterionResult(CamelModel):
    """The outcome of one pass criterion; ``value`` is None when the metric is missing.

    ``margin`` is how far the value is inside its bound (negative: how far outside); ``reason``
    names why a baseline comparison was refused (e.g. BaselineNotComparable).
    """

    metric: str
    value: float | None = None
    min: float | None = None
    max: float | None = None
    baseline: BaselineRecord | None = None
    margin: float | None = None
    reason: str | None = None
    passed: bool
    message: str


class EvalJobStatus(CamelModel):
    """Observed state written by the operator."""

    observed_generation: int | None = None
    phase: EvalJobPhase | None = None
    evaluator_api: str | None = Field(default=None, alias="evaluatorAPI")
    evaluator_namespace: str | None = None
    model: str | None = None
    job_id: str | None = None
    config_name: str | None = None
    benchmark_generation: int | None = None
    config_hash: str | None = None
    submission_started_at: str | None = None
    submitted_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    progress: float | None = None
    samples_processed: int | None = None
    message: str | None = None
    task_status: dict[str, str] | None = None
    scores: dict[str, float] | None = None
    score_errors: dict[str, float] | None = None
    headline_score: str | None = None
    results_ref: ResultsRef | None = None
    gate: list[CriterionResult] | None = None
    conditions: list[Condition] = []


class EvalJob(CamelModel):
    """An EvalJob object as read from the API server."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: EvalJobSpec
    status: EvalJobStatus = Field(default_factory=EvalJobStatus)

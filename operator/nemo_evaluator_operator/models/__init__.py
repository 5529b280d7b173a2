"""Pydantic models of the Benchmark and EvalJob custom resources (mirrors ``crds/``)."""

from .benchmark import Benchmark, BenchmarkConfig, BenchmarkSpec, BenchmarkStatus
from .common import (
    CamelModel,
    Condition,
    ConditionStatus,
    LocalObjectReference,
    ObjectMeta,
    SecretKeySelector,
)
from .evaljob import (
    CriterionResult,
    DeletionPolicy,
    EvalJob,
    EvalJobPhase,
    EvalJobSpec,
    EvalJobStatus,
    PassCriterion,
    ResultsRef,
)

__all__ = [
    "Benchmark",
    "BenchmarkConfig",
    "BenchmarkSpec",
    "BenchmarkStatus",
    "CamelModel",
    "Condition",
    "ConditionStatus",
    "CriterionResult",
    "DeletionPolicy",
    "EvalJob",
    "EvalJobPhase",
    "EvalJobSpec",
    "EvalJobStatus",
    "LocalObjectReference",
    "ObjectMeta",
    "PassCriterion",
    "ResultsRef",
    "SecretKeySelector",
]

"""The operator-wide objects shared by all handlers through kopf's memo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kopf

from ..evaluator import EvaluatorClient
from ..metrics import Metrics
from ..reconcile.observer import BatchedJobReader
from ..resources import KubeResources
from ..settings import OperatorSettings

__all__ = ["Runtime", "runtime"]

RUNTIME_KEY = "nemo_runtime"


@dataclass
class Runtime:
    """Settings and clients, created at startup and closed at cleanup."""

    settings: OperatorSettings
    evaluator: EvaluatorClient
    jobs: BatchedJobReader  # the evaluator, with job reads batched into one list per interval
    kube: KubeResources
    metrics: Metrics
    stats: dict[str, Any] = field(default_factory=dict)


def runtime(memo: kopf.Memo) -> Runtime:
    """The Runtime stored by the startup handler."""
    value = memo.get(RUNTIME_KEY)
    if not isinstance(value, Runtime):
        raise kopf.PermanentError("operator runtime is not initialised (startup handler missing)")
    return value

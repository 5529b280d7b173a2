"""The operator-wide objects shared by all handlers through kopf's memo."""

from __future__ import annotations

from dataclasses import dataclass, field

import kopf

from ..engine.benchmarks import BenchmarkEngine
from ..engine.evaljobs import EvalJobEngine
from ..evaluator.selection import SelectedEvaluator
from ..evaluator.transport import HttpTransport
from ..metrics import Metrics
from ..settings import OperatorSettings

__all__ = ["Runtime", "runtime"]

RUNTIME_KEY = "nemo_runtime"


@dataclass
class Runtime:
    """Settings, clients and the engines, created at startup and closed at cleanup."""

    settings: OperatorSettings
    transport: HttpTransport
    evaluator: SelectedEvaluator  # the v1 or Helix adapter, chosen by setting or probe
    evaljobs: EvalJobEngine
    benchmarks: BenchmarkEngine
    metrics: Metrics
    background: list[object] = field(default_factory=list)  # the poller and drift tasks


def runtime(memo: kopf.Memo) -> Runtime:
    """The Runtime stored by the startup handler."""
    value = memo.get(RUNTIME_KEY)
    if not isinstance(value, Runtime):
        raise kopf.PermanentError("operator runtime is not initialised (startup handler missing)")
    return value

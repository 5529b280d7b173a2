"""The Kubernetes I/O the decision logic needs, as a Protocol, so fakes can drive unit tests.

The evaluator side is `evaluator.port.EvaluatorPort`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import KubernetesError
from .runs import RunRecord

__all__ = ["ConfigMapSpec", "ConfigMapTakenError", "KubePort", "SecretLookup"]


@dataclass(frozen=True)
class SecretLookup:
    """A Secret key read: the value, or why there is none (never both), and the Secret's opt-in
    annotation (`allowed_evaljobs`, reported whenever the Secret exists)."""

    value: str | None = None
    problem: str | None = None
    reason: str | None = None
    allowed_evaljobs: str | None = None


@dataclass(frozen=True)
class ConfigMapSpec:
    """One results ConfigMap to create or replace, owned by the EvalJob."""

    name: str
    data: Mapping[str, str]
    labels: Mapping[str, str]


class ConfigMapTakenError(KubernetesError):
    """A ConfigMap with the results' name exists and is not this EvalJob's."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 409)


class KubePort(Protocol):
    """Kubernetes reads and writes other than kopf's own status patch."""

    async def get_benchmark(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Benchmark as the operator knows it (None when there is none)."""
        ...

    async def evaljob_runs(self, namespace: str) -> list[RunRecord]:
        """The EvalJobs of a namespace as runs (from the engine's index: no API read)."""
        ...

    async def read_secret_key(self, namespace: str, name: str, key: str) -> SecretLookup: ...
    async def patch_evaljob_metadata(
        self,
        namespace: str,
        name: str,
        metadata: dict[str, Any],
        resource_version: str | None = None,
    ) -> str: ...
    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None: ...

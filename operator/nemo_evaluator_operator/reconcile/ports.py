"""The I/O the decision logic needs, as Protocols, so it can be driven by fakes in unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..evaluator.models import EvaluationConfig, EvaluationJob

__all__ = ["ConfigMapSpec", "EvaluatorPort", "KubePort", "SecretLookup"]


class EvaluatorPort(Protocol):
    """The subset of the NeMo Evaluator client the reconcilers call."""

    async def create_config(self, body: dict[str, Any]) -> EvaluationConfig: ...
    async def get_config(self, namespace: str, name: str) -> EvaluationConfig: ...
    async def update_config(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> EvaluationConfig: ...
    async def delete_config(self, namespace: str, name: str) -> None: ...
    async def create_job(self, body: dict[str, Any]) -> EvaluationJob: ...
    async def get_job(self, job_id: str) -> EvaluationJob: ...
    async def find_jobs(self, custom_field: str, value: str) -> list[EvaluationJob]: ...
    async def cancel_job(self, job_id: str) -> None: ...
    async def delete_job(self, job_id: str) -> None: ...
    async def get_results(self, job_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SecretLookup:
    """A Secret key read: the value, or why there is none (never both)."""

    value: str | None = None
    problem: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ConfigMapSpec:
    """One results ConfigMap to create or replace, owned by the EvalJob."""

    name: str
    data: Mapping[str, str]
    labels: Mapping[str, str]


class KubePort(Protocol):
    """Kubernetes reads and writes other than kopf's own status patch."""

    async def get_benchmark(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    async def read_secret_key(self, namespace: str, name: str, key: str) -> SecretLookup: ...
    async def patch_evaljob_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> None: ...
    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None: ...

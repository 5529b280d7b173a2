"""What the engine works with: its settings, the cluster as the reconcilers see it, events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from ..metrics import Metrics
from ..reconcile.evaljob_status import EventSpec
from ..reconcile.ports import ConfigMapSpec, SecretLookup
from ..reconcile.runs import RunRecord
from ..resources import KubeResources
from ..resources.status import StatusWriter
from ..settings import OperatorSettings

__all__ = ["ClusterView", "EventSink", "Knobs", "status_dict"]


@dataclass(frozen=True)
class Knobs:
    """The engine's settings, read once at start."""

    poll_interval: float
    max_backoff: float
    grace_seconds: float
    default_namespace: str
    quiet_seconds: float  # v1: wait this long after an unanswered POST before posting again
    progress_interval: float  # at most one progress-only status write per EvalJob this often
    delete_budget: float  # seconds from the deletion request to give up cleaning up
    drift_interval: float
    instance: str  # names this process in submission markers
    concurrency: int = 64  # object steps at once
    leaderboard_size: int = 10  # rows in each Benchmark's status.leaderboard

    @classmethod
    def from_settings(cls, settings: OperatorSettings, instance: str) -> Knobs:
        return cls(
            poll_interval=settings.poll_interval,
            max_backoff=settings.max_backoff,
            grace_seconds=settings.dependency_grace_seconds,
            default_namespace=settings.evaluator_namespace,
            quiet_seconds=2 * settings.request_timeout,
            progress_interval=settings.progress_interval,
            delete_budget=settings.delete_budget,
            drift_interval=settings.drift_interval,
            instance=instance,
            leaderboard_size=settings.leaderboard_size,
        )


class EventSink(Protocol):
    """Posts Kubernetes Events about an object (kopf's poster, behind the handlers)."""

    def post(self, body: Mapping[str, Any], events: Iterable[EventSpec]) -> None: ...


def status_dict(status: BaseModel) -> dict[str, Any]:
    """A status as the API stores it (camelCase, no nulls)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


class ClusterView:
    """The reconcilers' `KubePort`: Benchmarks and other EvalJobs' runs from the engines'
    indexes (no API read), the rest
    through resources/, status through the one status writer."""

    def __init__(
        self,
        kube: KubeResources,
        writer: StatusWriter,
        metrics: Metrics,
        benchmark: Callable[[str, str], dict[str, Any] | None],
        runs: Callable[[str], list[RunRecord]] = lambda _namespace: [],
    ) -> None:
        self.kube = kube
        self.writer = writer
        self.metrics = metrics
        self._benchmark = benchmark
        self._runs = runs

    async def get_benchmark(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._benchmark(namespace, name)

    async def evaljob_runs(self, namespace: str) -> list[RunRecord]:
        return self._runs(namespace)

    async def read_secret_key(self, namespace: str, name: str, key: str) -> SecretLookup:
        return await self.kube.read_secret_key(namespace, name, key)

    async def patch_evaljob_metadata(
        self,
        namespace: str,
        name: str,
        metadata: dict[str, Any],
        resource_version: str | None = None,
    ) -> str:
        return await self.kube.patch_evaljob_metadata(namespace, name, metadata, resource_version)

    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None:
        await self.kube.apply_results_configmaps(namespace, owner, config_maps)

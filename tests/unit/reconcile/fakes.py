"""In-memory stand-ins for the reconcilers' ports (fast unit tests; the real ones are tested
end to end against kube-apiserver and the emulator)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_evaluator_operator.errors import KubernetesError
from nemo_evaluator_operator.evaluator.errors import (
    EvaluatorError,
    NotFoundError,
)
from nemo_evaluator_operator.evaluator.v1.adapter import V1Evaluator
from nemo_evaluator_operator.evaluator.v1.models import EvaluationConfig, EvaluationJob
from nemo_evaluator_operator.reconcile.ports import ConfigMapSpec, SecretLookup
from nemo_evaluator_operator.reconcile.runs import RunRecord

__all__ = ["FakeEvaluator", "FakeKube", "not_found", "v1_port"]


def v1_port(fake: FakeEvaluator) -> V1Evaluator:
    """The real v1 adapter over the in-memory v1 client (every read goes straight through)."""
    return V1Evaluator(fake)  # type: ignore[arg-type]


def not_found(path: str) -> NotFoundError:
    return NotFoundError(status_code=404, detail="not found", body={}, method="GET", path=path)


@dataclass
class FakeEvaluator:
    """Records calls; `fail` maps a method name to an error raised on its next call."""

    configs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail: dict[str, EvaluatorError] = field(default_factory=dict)
    ignore_search: bool = False
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def _enter(self, name: str, arg: Any) -> None:
        self.calls.append((name, arg))
        if name in self.fail:
            raise self.fail.pop(name)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def create_config(self, body: dict[str, Any]) -> EvaluationConfig:
        self._enter("create_config", body)
        self.configs[(body["namespace"], body["name"])] = dict(body)
        return EvaluationConfig.model_validate(body)

    async def get_config(self, namespace: str, name: str) -> EvaluationConfig:
        self._enter("get_config", (namespace, name))
        if (namespace, name) not in self.configs:
            raise not_found("/v1/evaluation/configs/{namespace}/{name}")
        return EvaluationConfig.model_validate(self.configs[(namespace, name)])

    async def update_config(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> EvaluationConfig:
        self._enter("update_config", body)
        self.configs[(namespace, name)].update(body)
        return EvaluationConfig.model_validate(self.configs[(namespace, name)])

    async def delete_config(self, namespace: str, name: str) -> None:
        self._enter("delete_config", (namespace, name))
        if self.configs.pop((namespace, name), None) is None:
            raise not_found("/v1/evaluation/configs/{namespace}/{name}")

    async def create_job(self, body: dict[str, Any]) -> EvaluationJob:
        self._enter("create_job", body)
        job_id = f"eval-{next(self._ids)}"
        job = {
            **body,
            "id": job_id,
            "status": "created",
            "created_at": f"2026-01-01T00:00:0{len(self.jobs)}",
        }
        self.jobs[job_id] = job
        return EvaluationJob.model_validate(job)

    async def get_job(self, job_id: str) -> EvaluationJob:
        self._enter("get_job", job_id)
        if job_id not in self.jobs:
            raise not_found("/v1/evaluation/jobs/{job_id}")
        return EvaluationJob.model_validate(self.jobs[job_id])

    async def find_jobs(self, custom_field: str, value: str) -> list[EvaluationJob]:
        self._enter("find_jobs", (custom_field, value))
        return [
            EvaluationJob.model_validate(job)
            for job in self.jobs.values()
            if job.get("custom_fields", {}).get(custom_field) == value
        ]

    async def iter_jobs(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        search: Mapping[str, str] | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[EvaluationJob]:
        """Pages like the real list endpoint; each page is one recorded `list_jobs` call.

        `search` values are comma-joined alternatives matched as substrings, unless
        `ignore_search` plays a server that does not implement it."""
        wanted = dict(filters or {})
        anyof = {} if self.ignore_search else dict(search or {})
        matching = [
            job for job in self.jobs.values() if _matches(job, wanted) and _searched(job, anyof)
        ]
        for start in range(0, max(len(matching), 1), page_size):
            self._enter("list_jobs", {**wanted, **{f"search.{k}": v for k, v in anyof.items()}})
            for job in matching[start : start + page_size]:
                yield EvaluationJob.model_validate(job)

    async def cancel_job(self, job_id: str) -> None:
        self._enter("cancel_job", job_id)
        self.jobs[job_id]["status"] = "cancelling"

    async def delete_job(self, job_id: str) -> None:
        self._enter("delete_job", job_id)
        if self.jobs.pop(job_id, None) is None:
            raise not_found("/v1/evaluation/jobs/{job_id}")

    async def get_results(self, job_id: str) -> dict[str, Any]:
        self._enter("get_results", job_id)
        return self.results[job_id]


def _searched(job: dict[str, Any], search: dict[str, str]) -> bool:
    return all(
        any(value in str(job.get(key, "")) for value in values.split(","))
        for key, values in search.items()
    )


def _matches(job: dict[str, Any], filters: dict[str, str]) -> bool:
    for key, value in filters.items():
        if key.startswith("custom_fields."):
            if job.get("custom_fields", {}).get(key.split(".", 1)[1]) != value:
                return False
        elif job.get(key) != value:
            return False
    return True


@dataclass
class FakeKube:
    benchmarks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # Each Secret's evaluator.nemo.dev/allowed-evaljobs annotation; absent means "*".
    secret_opt_in: dict[tuple[str, str], str | None] = field(default_factory=dict)
    status_patches: list[dict[str, Any]] = field(default_factory=list)
    metadata_patches: list[dict[str, Any]] = field(default_factory=list)
    conflict_on_mark: bool = False
    config_maps: dict[str, ConfigMapSpec] = field(default_factory=dict)
    owners: list[Mapping[str, str]] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)

    async def evaljob_runs(self, namespace: str) -> list[RunRecord]:
        return [run for run in self.runs if run.namespace == namespace]

    async def get_benchmark(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.benchmarks.get((namespace, name))

    async def read_secret_key(self, namespace: str, name: str, key: str) -> SecretLookup:
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return SecretLookup(
                problem=f"Secret {namespace}/{name} not found", reason="SecretNotFound"
            )
        opt_in = self.secret_opt_in.get((namespace, name), "*")
        if key not in secret:
            return SecretLookup(
                problem=f"no key {key}", reason="SecretKeyNotFound", allowed_evaljobs=opt_in
            )
        return SecretLookup(value=secret[key], allowed_evaljobs=opt_in)

    async def patch_evaljob_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None = None
    ) -> str:
        self.status_patches.append(status)
        return str(len(self.status_patches) + len(self.metadata_patches))

    async def patch_evaljob_metadata(
        self,
        namespace: str,
        name: str,
        metadata: dict[str, Any],
        resource_version: str | None = None,
    ) -> str:
        if self.conflict_on_mark:
            raise KubernetesError("the object has been modified", 409)
        self.metadata_patches.append({**metadata, "resourceVersion": resource_version})
        return str(len(self.status_patches) + len(self.metadata_patches))

    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None:
        self.owners.append(owner)
        for spec in config_maps:
            self.config_maps[spec.name] = spec

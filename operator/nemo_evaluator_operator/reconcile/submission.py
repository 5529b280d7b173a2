"""Submit an EvalJob to NeMo exactly once: dependencies, job body, marker, adoption."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..constants import (
    CUSTOM_FIELD_EVALJOB_UID,
    CUSTOM_FIELD_K8S_NAME,
    CUSTOM_FIELD_K8S_NAMESPACE,
    CUSTOM_FIELD_MANAGED_BY,
    MANAGED_BY,
    Cond,
    Reason,
)
from ..evaluator.models import EvaluationJob
from ..models import Benchmark, EvalJob
from .ports import KubePort

__all__ = [
    "Dependencies",
    "Missing",
    "build_job_body",
    "pick_adopted",
    "resolve_dependencies",
    "spec_problem",
]


@dataclass(frozen=True)
class Missing:
    """A dependency that is not there (yet): a reason and a message for the conditions."""

    reason: str
    message: str


@dataclass(frozen=True)
class Dependencies:
    """What a submission needs from the cluster."""

    config_ref: str
    api_key: str | None


async def resolve_dependencies(ej: EvalJob, kube: KubePort) -> Dependencies | Missing:
    """Find the Benchmark's NeMo config and the API key; say precisely what is missing."""
    namespace = ej.metadata.namespace
    bm_name = ej.spec.benchmark_ref.name
    raw = await kube.get_benchmark(namespace, bm_name)
    if raw is None:
        return Missing(Reason.BENCHMARK_NOT_FOUND, f"Benchmark {namespace}/{bm_name} not found")
    benchmark = Benchmark.model_validate(raw)
    config_ref = _ready_config(benchmark)
    if config_ref is None:
        return Missing(Reason.BENCHMARK_NOT_READY, _not_ready_message(benchmark))
    api_key: str | None = None
    ref = ej.spec.api_key_secret_ref
    if ref is not None:
        lookup = await kube.read_secret_key(namespace, ref.name, ref.key)
        if lookup.value is None:
            return Missing(lookup.reason or Reason.SECRET_NOT_FOUND, lookup.problem or "")
        api_key = lookup.value
    return Dependencies(config_ref=config_ref, api_key=api_key)


def spec_problem(ej: EvalJob) -> str | None:
    """What in an (immutable) spec can never work, beyond what the CRD schema checks."""
    model = ej.spec.target.get("model")
    if ej.spec.api_key_secret_ref is not None and not isinstance(model, dict):
        return "spec.apiKeySecretRef needs spec.target.model to be an object with api_endpoint"
    if _has_key(ej.spec.target, "api_key"):
        # Refused rather than used: a key in the spec lands in Git, etcd and every `get -o yaml`.
        return "spec.target must not contain api_key; put the key in a Secret (apiKeySecretRef)"
    return None


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def _ready_config(benchmark: Benchmark) -> str | None:
    status = benchmark.status
    ready = any(c.type == Cond.READY and c.status == "True" for c in status.conditions)
    current = status.observed_generation == benchmark.metadata.generation
    return status.config_name if ready and current and status.config_name else None


def _not_ready_message(benchmark: Benchmark) -> str:
    name = f"{benchmark.metadata.namespace}/{benchmark.metadata.name}"
    for condition in benchmark.status.conditions:
        if condition.type == Cond.READY and condition.message:
            return f"Benchmark {name} is not ready: {condition.message}"
    return f"Benchmark {name} is not ready yet"


def build_job_body(ej: EvalJob, deps: Dependencies) -> dict[str, Any]:
    """The NeMo job: config by reference, target from the spec, API key only in this body."""
    config_namespace = deps.config_ref.split("/", 1)[0]
    target = _deep_copy(ej.spec.target)
    model = target.get("model")
    if deps.api_key is not None and isinstance(model, dict):
        model.setdefault("api_endpoint", {})["api_key"] = deps.api_key
    return {
        "namespace": config_namespace,
        "config": deps.config_ref,
        "target": target,
        "custom_fields": {
            CUSTOM_FIELD_MANAGED_BY: MANAGED_BY,
            CUSTOM_FIELD_EVALJOB_UID: ej.metadata.uid,
            CUSTOM_FIELD_K8S_NAMESPACE: ej.metadata.namespace,
            CUSTOM_FIELD_K8S_NAME: ej.metadata.name,
        },
    }


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def pick_adopted(jobs: list[EvaluationJob], uid: str) -> EvaluationJob | None:
    """The job an earlier, interrupted submission created: the oldest one tagged with our UID."""
    ours = [job for job in jobs if job.custom_fields.get(CUSTOM_FIELD_EVALJOB_UID) == uid]
    ours.sort(key=lambda job: (job.created_at or "", job.id))
    return ours[0] if ours else None

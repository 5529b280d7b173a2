"""What an EvalJob's submission needs: a ready Benchmark, the API key, a valid spec."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..constants import Cond, Reason
from ..evaluator.port import BenchmarkDefinition, EvaluatorPort, JobObservation, Owner
from ..models import Benchmark, EvalJob
from .benchmark import config_hash, definition_for
from .ports import KubePort
from .secret_access import allows, not_allowed_message

__all__ = [
    "Dependencies",
    "Missing",
    "model_of",
    "owner_of",
    "pick_adopted",
    "resolve_dependencies",
    "spec_problem",
]


@dataclass(frozen=True)
class Missing:
    """A dependency that is not there (yet): a reason and a message for the conditions."""

    reason: str
    message: str

    @property
    def evaluator_level(self) -> bool:
        """The evaluator, not a Kubernetes object, is what is missing."""
        return self.reason in _EVALUATOR_REASONS


@dataclass(frozen=True)
class Dependencies:
    """What a submission needs from the cluster, as of now."""

    benchmark: BenchmarkDefinition
    generation: int
    config_hash: str
    api_key: str | None


def owner_of(ej: EvalJob) -> Owner:
    meta = ej.metadata
    return Owner(uid=meta.uid, namespace=meta.namespace, name=meta.name)


async def resolve_dependencies(
    ej: EvalJob, kube: KubePort, default_namespace: str
) -> Dependencies | Missing:
    """Find the Benchmark's current, accepted definition and the API key; say what is missing."""
    namespace = ej.metadata.namespace
    bm_name = ej.spec.benchmark_ref.name
    raw = await kube.get_benchmark(namespace, bm_name)
    if raw is None:
        return Missing(Reason.BENCHMARK_NOT_FOUND, f"Benchmark {namespace}/{bm_name} not found")
    benchmark = Benchmark.model_validate(raw)
    if not _ready(benchmark):
        return Missing(_not_ready_reason(benchmark), _not_ready_message(benchmark))
    definition = definition_for(benchmark, default_namespace)
    recorded = benchmark.status.config_name
    if definition.api == "v1" and recorded and "/" in recorded:  # the config it really synced
        namespace_, name = recorded.split("/", 1)
        definition = dataclasses.replace(definition, namespace=namespace_, name=name)
    api_key: str | None = None
    ref = ej.spec.api_key_secret_ref
    if ref is not None:
        lookup = await kube.read_secret_key(namespace, ref.name, ref.key)
        found = lookup.reason != Reason.SECRET_NOT_FOUND
        if found and not allows(lookup.allowed_evaljobs, ej.metadata.name):
            # Checked before the key: an EvalJob the Secret does not allow learns nothing of it.
            message = not_allowed_message(
                namespace, ref.name, ej.metadata.name, lookup.allowed_evaljobs
            )
            return Missing(Reason.SECRET_NOT_ALLOWED, message)
        if lookup.value is None:
            return Missing(lookup.reason or Reason.SECRET_NOT_FOUND, lookup.problem or "")
        api_key = lookup.value
    return Dependencies(
        benchmark=definition,
        generation=benchmark.metadata.generation,
        config_hash=config_hash(definition.body),
        api_key=api_key,
    )


def spec_problem(ej: EvalJob, evaluator: EvaluatorPort) -> str | None:
    """What in an (immutable) spec can never work, beyond what the CRD schema checks."""
    target = ej.spec.target
    if _has_key(target, "api_key"):
        # Refused rather than used: a key in the spec lands in Git, etcd and every `get -o yaml`.
        return "spec.target must not contain api_key; put the key in a Secret (apiKeySecretRef)"
    if ej.spec.api_key_secret_ref is not None and "api_key_secret" in target:
        return "spec.target.api_key_secret and spec.apiKeySecretRef both name a key; use one"
    helix_form = "url" in target or "name" in target
    model = target.get("model")
    if ej.spec.api_key_secret_ref is not None and not helix_form and not isinstance(model, dict):
        return "spec.apiKeySecretRef needs spec.target.model to be an object with api_endpoint"
    return evaluator.target_problem(target)


def model_of(target: dict[str, Any]) -> str | None:
    """The model id a target evaluates, whichever form it is written in (for `kubectl get`)."""
    name = target.get("name")
    if isinstance(name, str):
        return name
    model = target.get("model")
    endpoint = model.get("api_endpoint") if isinstance(model, dict) else None
    model_id = endpoint.get("model_id") if isinstance(endpoint, dict) else None
    return model_id if isinstance(model_id, str) else None


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def _ready(benchmark: Benchmark) -> bool:
    status = benchmark.status
    ready = any(c.type == Cond.READY and c.status == "True" for c in status.conditions)
    return ready and status.observed_generation == benchmark.metadata.generation


def _not_ready_reason(benchmark: Benchmark) -> str:
    """`BenchmarkNotReady`, or the evaluator-level reason the Benchmark is stuck on, so the
    EvalJob says at once that the evaluator (not the Benchmark) is the problem."""
    for condition in benchmark.status.conditions:
        if condition.type == Cond.READY and condition.reason in _EVALUATOR_REASONS:
            return condition.reason
    return Reason.BENCHMARK_NOT_READY


_EVALUATOR_REASONS = frozenset({Reason.UNSUPPORTED_API, Reason.WRONG_API})


def _not_ready_message(benchmark: Benchmark) -> str:
    name = f"{benchmark.metadata.namespace}/{benchmark.metadata.name}"
    for condition in benchmark.status.conditions:
        if condition.type == Cond.READY and condition.message:
            return f"Benchmark {name} is not ready: {condition.message}"
    return f"Benchmark {name} is not ready yet"


def pick_adopted(jobs: list[JobObservation], uid: str) -> JobObservation | None:
    """The job an earlier, interrupted submission created: the oldest one tagged with our UID."""
    ours = [job for job in jobs if job.owner_uid == uid]
    ours.sort(key=lambda job: (job.created_at or "", job.ref.job_id))
    return ours[0] if ours else None

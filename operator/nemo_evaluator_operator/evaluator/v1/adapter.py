"""The evaluator port over the NeMo Microservices v1 API.

v1 has no idempotency key: a job is tagged with its EvalJob's UID in `custom_fields`, found
again by that tag, and the reconcilers guard the POST with a marker and a quiet period.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from ...constants import (
    CUSTOM_FIELD_EVALJOB_UID,
    CUSTOM_FIELD_K8S_NAME,
    CUSTOM_FIELD_K8S_NAMESPACE,
    CUSTOM_FIELD_MANAGED_BY,
    MANAGED_BY,
)
from ..errors import EvaluatorResponseError, WrongAPIError
from ..port import (
    BenchmarkDefinition,
    BenchmarkSyncResult,
    EvaluatorAPI,
    JobBatch,
    JobObservation,
    JobRef,
    JobResults,
    Owner,
    SubmitRequest,
)
from ..states import job_state
from .client import V1Client
from .configs import check_owner, config_body, delete_config, differs, ensure_config
from .models import EvaluationJob
from .polling import ActiveJobReader, list_our_configs
from .results import flatten_scores, flatten_stats

__all__ = ["V1Evaluator", "target_problem"]


def target_problem(target: dict[str, Any]) -> str | None:
    """Why a target cannot be sent to v1 (None when it can)."""
    if "type" not in target:
        return (
            "spec.target is written for NeMo Helix (url, name); NeMo Microservices v1 needs "
            "{type: model, model: {api_endpoint: {url, model_id}}}"
        )
    return None


class V1Evaluator:
    """Configs for Benchmarks, jobs for EvalJobs, observed in batches."""

    def __init__(self, client: V1Client, *, page_size: int = 100) -> None:
        self.client = client
        self.page_size = page_size
        self.reader = ActiveJobReader(client, page_size)

    @property
    def api(self) -> EvaluatorAPI:
        return "v1"

    @property
    def idempotent_submit(self) -> bool:
        return False

    def job_id_for(self, owner: Owner) -> str | None:
        return None  # NeMo chooses v1 job ids

    def target_problem(self, target: dict[str, Any]) -> str | None:
        return target_problem(target)

    def _require_v1(self, definition: BenchmarkDefinition) -> None:
        if definition.api != "v1":
            raise WrongAPIError(
                "the Benchmark is written for NeMo Helix (spec.evaluation), but the operator "
                "talks to NeMo Microservices v1 (which needs spec.config)"
            )

    async def sync_benchmark(self, definition: BenchmarkDefinition) -> BenchmarkSyncResult:
        self._require_v1(definition)
        return BenchmarkSyncResult(await ensure_config(self.client, definition))

    async def delete_benchmark(self, definition: BenchmarkDefinition) -> None:
        if definition.api == "v1":
            await delete_config(self.client, definition)

    async def submit(self, request: SubmitRequest) -> JobObservation:
        self._require_v1(request.benchmark)
        problem = target_problem(request.target)
        if problem is not None:
            raise WrongAPIError(problem)
        job = await self.client.create_job(job_body(request))
        return _observation(job, request.namespace)

    async def find_jobs(self, namespace: str, owner: Owner) -> Sequence[JobObservation]:
        found = await self.client.find_jobs(CUSTOM_FIELD_EVALJOB_UID, owner.uid)
        return [_observation(job, namespace) for job in found]

    async def observe(self, ref: JobRef) -> JobObservation:
        return _observation(await self.client.get_job(ref.job_id), ref.namespace)

    async def observe_many(self, refs: Collection[JobRef]) -> JobBatch:
        by_id = {ref.job_id: ref for ref in refs}
        found, missing, failed = await self.reader.read(by_id)
        return JobBatch(
            jobs={by_id[i]: _observation(job, by_id[i].namespace) for i, job in found.items()},
            missing=frozenset(by_id[i] for i in missing),
            failed={by_id[i]: err for i, err in failed.items()},
        )

    async def drifted(self, definitions: Collection[BenchmarkDefinition]) -> set[str]:
        """Our configs that are gone or differ from their Benchmark, from one paged list."""
        ours = [d for d in definitions if d.api == "v1"]
        if not ours:
            return set()
        stored = await list_our_configs(self.client, self.page_size)
        drifted: set[str] = set()
        for definition in ours:
            observed = stored.get(definition.ref)
            if observed is None or differs(config_body(definition), observed):
                drifted.add(definition.ref)
            elif not check_owner(observed, definition):
                drifted.add(definition.ref)  # the sync reports whose it is
        return drifted

    async def cancel(self, ref: JobRef) -> None:
        await self.client.cancel_job(ref.job_id)

    async def delete(self, ref: JobRef) -> None:
        await self.client.delete_job(ref.job_id)

    async def results(self, ref: JobRef) -> JobResults:
        document = await self.client.get_results(ref.job_id)
        return JobResults(
            scores=flatten_scores(document), document=document, stats=flatten_stats(document)
        )

    async def release(self, namespace: str, owner: Owner) -> None:
        return None  # the API key travels inside the job body; nothing else is stored


def job_body(request: SubmitRequest) -> dict[str, Any]:
    """The v1 job: config by reference, target from the spec, API key only in this body."""
    target = _deep_copy(request.target)
    model = target.get("model")
    if request.api_key is not None and isinstance(model, dict):
        model.setdefault("api_endpoint", {})["api_key"] = request.api_key
    owner = request.owner
    return {
        "namespace": request.benchmark.namespace,
        "config": request.benchmark.ref,
        "target": target,
        "custom_fields": {
            CUSTOM_FIELD_MANAGED_BY: MANAGED_BY,
            CUSTOM_FIELD_EVALJOB_UID: owner.uid,
            CUSTOM_FIELD_K8S_NAMESPACE: owner.namespace,
            CUSTOM_FIELD_K8S_NAME: owner.name,
        },
    }


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _observation(job: EvaluationJob, namespace: str) -> JobObservation:
    if not job.id:
        raise EvaluatorResponseError("NeMo returned a job without an id")
    details = job.status_details
    uid = job.custom_fields.get(CUSTOM_FIELD_EVALJOB_UID)
    return JobObservation(
        ref=JobRef(job.namespace or namespace, job.id),
        state=job_state("v1", job.status),
        raw_state=job.status,
        message=details.message,
        progress=details.progress,
        samples_processed=details.samples_processed,
        task_status=dict(details.task_status),
        created_at=job.created_at,
        owner_uid=uid if isinstance(uid, str) else None,
    )

"""The evaluator port over NeMo Helix Evals.

Helix stores no evaluation configs: every job carries its whole definition, so a Benchmark is
checked (not stored) and each EvalJob's job is built from the Benchmark's definition. The job
name is the idempotency key; the model API key goes through a workspace secret we own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any, Final

from ...constants import CUSTOM_FIELD_EVALJOB_UID
from ..errors import (
    ConflictError,
    EvaluatorAPIError,
    EvaluatorError,
    ForeignObjectError,
    InvalidDefinitionError,
    MissingSecretError,
    NotFoundError,
    WrongAPIError,
    truncate,
)
from ..port import (
    BenchmarkDefinition,
    BenchmarkSync,
    BenchmarkSyncResult,
    EvaluatorAPI,
    JobBatch,
    JobObservation,
    JobRef,
    JobResults,
    JobState,
    Owner,
    SubmitRequest,
)
from ..states import job_state
from .client import HelixClient
from .definition import (
    job_body,
    job_spec,
    live_check_body,
    scores_from,
    target_for,
    target_problem,
)
from .metrics import score_names
from .models import HelixJob
from .naming import job_name_for, secret_name_for
from .polling import read_jobs

__all__ = ["HelixEvaluator"]

ERROR_TAIL: Final = 2048
"""How much of a failed task's error stack becomes the message (its end holds the cause)."""


class HelixEvaluator:
    """Benchmarks checked with `evaluate/live`, one named job per EvalJob, batched polling."""

    def __init__(
        self,
        client: HelixClient,
        *,
        create_workspaces: bool = True,
        page_size: int = 100,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self._create_workspaces = create_workspaces
        self._workspaces: set[str] = set()

    @property
    def api(self) -> EvaluatorAPI:
        return "helix"

    @property
    def idempotent_submit(self) -> bool:
        return True

    def job_id_for(self, owner: Owner) -> str | None:
        return job_name_for(owner)

    def target_problem(self, target: dict[str, Any]) -> str | None:
        return target_problem(target)

    def _require_helix(self, definition: BenchmarkDefinition) -> dict[str, Any]:
        if definition.api != "helix":
            raise WrongAPIError(
                "the Benchmark is written for NeMo Microservices v1 (spec.config), but the "
                "operator talks to NeMo Helix (which needs spec.evaluation)"
            )
        return definition.body

    async def ensure_workspace(self, workspace: str) -> None:
        """Create the workspace unless it exists (409) or creating is switched off."""
        if workspace in self._workspaces:
            return
        if self._create_workspaces:
            with contextlib.suppress(ConflictError):  # 409: it exists already
                await self.client.create_workspace(workspace, "created by nemo-evaluator-operator")
        else:
            await self.client.get_workspace(workspace)  # NotFoundError says it is missing
        self._workspaces.add(workspace)

    async def sync_benchmark(self, definition: BenchmarkDefinition) -> BenchmarkSyncResult:
        """Check the definition with Helix itself; nothing is stored."""
        evaluation = self._require_helix(definition)
        await self.ensure_workspace(definition.namespace)
        spec = job_spec(evaluation)  # bundles the metrics: may raise InvalidDefinitionError
        check = live_check_body(evaluation)
        if check is not None:
            answer = await self._live(definition.namespace, check)
            failed = [
                m for m in answer.get("metrics") or [] if isinstance(m, dict) and m.get("error")
            ]
            if failed:
                problems = "; ".join(f"{m.get('metric')}: {m.get('error')}" for m in failed)
                raise InvalidDefinitionError(
                    f"NeMo Helix could not score with: {truncate(problems)}"
                )
        else:
            await self._check_fileset(definition.namespace, evaluation.get("dataset"))
        return BenchmarkSyncResult(BenchmarkSync.VALIDATED, tuple(score_names(spec["metrics"])))

    async def _live(self, workspace: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.client.evaluate_live(workspace, body)
        except EvaluatorAPIError as err:
            # Helix answers 502 with its own JSON detail when no metric could score the row
            # (a template naming a missing field, ...): that is the definition's fault. A 502
            # without it is a gateway's, and stays a transient error.
            if err.status_code == 502 and isinstance(err.body, dict) and err.detail:
                message = f"NeMo Helix could not score with: {err.detail}"
                raise InvalidDefinitionError(message) from None
            raise

    async def _check_fileset(self, workspace: str, dataset: Any) -> None:
        """A `workspace/fileset#path` dataset must name a fileset (and file) that exist."""
        if not isinstance(dataset, str):
            raise InvalidDefinitionError(
                'spec.evaluation.dataset must be a list of rows or a "workspace/fileset#path"'
            )
        ref, _, path = dataset.partition("#")
        space, _, fileset = ref.rpartition("/")
        try:
            paths = await self.client.list_fileset_files(space or workspace, fileset)
        except NotFoundError as err:
            raise InvalidDefinitionError(f"dataset {dataset}: {err.detail}") from None
        if path and path not in paths:
            raise InvalidDefinitionError(f"dataset {dataset}: fileset has no file {path!r}")

    async def delete_benchmark(self, definition: BenchmarkDefinition) -> None:
        return None  # nothing was stored in Helix for it

    async def submit(self, request: SubmitRequest) -> JobObservation:
        """POST the named job; a 409 for our own name means it exists already: adopt it."""
        evaluation = self._require_helix(request.benchmark)
        workspace = request.benchmark.namespace
        target = target_for(request.target)
        await self.ensure_workspace(workspace)
        if request.api_key is not None:
            target["api_key_secret"] = await self._store_key(workspace, request)
        name = job_name_for(request.owner)
        body = job_body(name, request.owner, evaluation, target)
        try:
            job = await self.client.create_job(workspace, body)
        except ConflictError as err:
            if "secret" in err.detail.lower():
                raise MissingSecretError(f"NeMo Helix: {err.detail}") from None
            existing = await self.client.get_job(workspace, name)
            observation = await self._observation(existing, workspace)
            if observation.owner_uid != request.owner.uid:
                raise ForeignObjectError(
                    f"Helix job {workspace}/{name} exists but was not created for this EvalJob"
                ) from None
            return dataclasses.replace(observation, adopted=True)
        return await self._observation(job, workspace)

    async def _store_key(self, workspace: str, request: SubmitRequest) -> str:
        """Create or update the workspace secret this EvalJob's key lives in; its name."""
        name = secret_name_for(request.owner)
        assert request.api_key is not None
        try:
            await self.client.create_secret(workspace, name, request.api_key)
        except ConflictError:
            await self.client.update_secret(workspace, name, request.api_key)
        return name

    async def find_jobs(self, namespace: str, owner: Owner) -> Sequence[JobObservation]:
        try:
            job = await self.client.get_job(namespace, job_name_for(owner))
        except NotFoundError:
            return []
        observation = await self._observation(job, namespace)
        return [observation] if observation.owner_uid == owner.uid else []

    async def observe(self, ref: JobRef) -> JobObservation:
        job = await self.client.get_job(ref.namespace, ref.job_id)
        return await self._observation(job, ref.namespace)

    async def observe_many(self, refs: Collection[JobRef]) -> JobBatch:
        by_workspace: defaultdict[str, set[str]] = defaultdict(set)
        for ref in refs:
            by_workspace[ref.namespace].add(ref.job_id)
        jobs: dict[JobRef, JobObservation] = {}
        missing: set[JobRef] = set()
        failed: dict[JobRef, Exception] = {}
        errors: list[EvaluatorError] = []
        for workspace, names in sorted(by_workspace.items()):
            try:
                found, gone, broken = await read_jobs(self.client, workspace, names, self.page_size)
            except EvaluatorError as err:
                errors.append(err)
                failed.update({JobRef(workspace, n): err for n in names})
                continue
            seen = await asyncio.gather(*(self._observation(j, workspace) for j in found.values()))
            jobs.update({JobRef(workspace, job.ref.job_id): job for job in seen})
            missing.update(JobRef(workspace, n) for n in gone)
            failed.update({JobRef(workspace, n): err for n, err in broken.items()})
        if errors and len(errors) == len(by_workspace):
            raise errors[0]
        return JobBatch(jobs=jobs, missing=frozenset(missing), failed=failed)

    async def drifted(self, definitions: Collection[BenchmarkDefinition]) -> set[str]:
        return set()  # Helix stores nothing for a Benchmark: nothing can drift

    async def cancel(self, ref: JobRef) -> None:
        await self.client.cancel_job(ref.namespace, ref.job_id)

    async def delete(self, ref: JobRef) -> None:
        await self.client.delete_job(ref.namespace, ref.job_id)

    async def results(self, ref: JobRef) -> JobResults:
        document = await self.client.download_result(
            ref.namespace, ref.job_id, "evaluation-results"
        )
        if not isinstance(document.get("aggregate_scores"), dict):
            aggregate = await self.client.download_result(
                ref.namespace, ref.job_id, "aggregate-scores"
            )
            document = {**document, "aggregate_scores": aggregate}
        scores, stats = scores_from(document)
        return JobResults(scores=scores, document=document, stats=stats)

    async def release(self, namespace: str, owner: Owner) -> None:
        """Delete the EvalJob's key secret; one already gone counts as deleted."""
        try:
            await self.client.delete_secret(namespace, secret_name_for(owner))
        except NotFoundError:
            return

    async def _observation(self, job: HelixJob, workspace: str) -> JobObservation:
        state = job_state("helix", job.status)
        message = job.status_details.message
        if state is JobState.FAILED:
            message = await self._failure_message(workspace, job.name, message)
        evaluation = job.status_details.evaluation
        progress = samples = None
        if evaluation is not None and evaluation.total:
            samples = evaluation.scored
            progress = round(100.0 * (evaluation.scored or 0) / evaluation.total, 2)
        uid = job.custom_fields.get(CUSTOM_FIELD_EVALJOB_UID)
        return JobObservation(
            ref=JobRef(job.workspace or workspace, job.name),
            state=state,
            raw_state=job.status,
            message=message,
            progress=progress,
            samples_processed=samples,
            created_at=job.created_at,
            owner_uid=uid if isinstance(uid, str) else None,
        )

    async def _failure_message(self, workspace: str, name: str, summary: str | None) -> str:
        """The cause of a failed job: the end of its tasks' error stacks ("exit code 1" else)."""
        try:
            status = await self.client.get_job_status(workspace, name)
        except EvaluatorAPIError:
            return summary or "NeMo Helix reported the job as failed"
        stacks = [t.error_stack for s in status.steps for t in s.tasks if t.error_stack]
        if not stacks:
            return summary or "NeMo Helix reported the job as failed"
        tail = "\n".join(stacks).strip()
        if len(tail) > ERROR_TAIL:
            tail = "…" + tail[-ERROR_TAIL:]
        return f"{summary or 'job failed'}: {tail}"

"""Removing NeMo jobs: duplicates left by an ambiguous submission, and everything on deletion."""

from __future__ import annotations

from ..evaluator.errors import ConflictError, NotFoundError
from ..evaluator.port import EvaluatorPort, JobRef, JobState, Owner
from ..models import EvalJob
from .exactly_once import marker_of
from .submission import owner_of

__all__ = ["cleanup_job", "job_namespace", "remove_duplicates"]


def job_namespace(ej: EvalJob, default_namespace: str) -> str:
    """The NeMo namespace / Helix workspace of the EvalJob's job (older statuses lack it)."""
    status = ej.status
    if status.evaluator_namespace:
        return status.evaluator_namespace
    if status.config_name and "/" in status.config_name:
        return status.config_name.split("/", 1)[0]
    return default_namespace


async def cleanup_job(
    ej: EvalJob, evaluator: EvaluatorPort, default_namespace: str, known_job_id: str | None = None
) -> bool:
    """Cancel and delete every NeMo job of this EvalJob and what it left; True once done.

    Jobs are found by the EvalJob's identity as well as by status.jobId (and a job id this
    process learnt but could not record yet), so a job created by an interrupted or duplicated
    submission is not left behind.
    """
    job_ids = {i for i in (ej.status.job_id, known_job_id) if i}
    if not job_ids and marker_of(ej) is None:
        return True  # never submitted: nothing in NeMo to clean up
    namespace = job_namespace(ej, default_namespace)
    owner = owner_of(ej)
    found = await evaluator.find_jobs(namespace, owner)
    refs = {job.ref for job in found if job.owner_uid == owner.uid}
    refs |= {JobRef(namespace, job_id) for job_id in job_ids}
    done = [await _remove(evaluator, ref) for ref in sorted(refs, key=str)]
    if all(done):
        await evaluator.release(namespace, owner)
    return all(done)


async def remove_duplicates(
    evaluator: EvaluatorPort, namespace: str, owner: Owner, keep: str
) -> tuple[bool, list[JobRef]]:
    """Cancel and delete jobs of `owner` other than `keep`: (none left, the extras found).

    Without an idempotency key (v1) a POST that timed out may still be processed by NeMo after
    the operator posted again; this is what brings such an EvalJob back to exactly one job.
    """
    found = await evaluator.find_jobs(namespace, owner)
    extras = [job.ref for job in found if job.owner_uid == owner.uid and job.ref.job_id != keep]
    done = [await _remove(evaluator, ref) for ref in extras]
    return all(done), extras


async def _remove(evaluator: EvaluatorPort, ref: JobRef) -> bool:
    """Cancel a live job, else delete it; True once it is gone, False while it cancels."""
    try:
        job = await evaluator.observe(ref)
        if not job.state.is_terminal:
            if job.state is not JobState.CANCELLING:
                await evaluator.cancel(ref)
            return False
        await evaluator.delete(ref)
    except NotFoundError:
        return True
    except ConflictError:
        return False  # refused for now (e.g. still cancelling): try again shortly
    return True

"""Removing NeMo jobs: duplicates left by an ambiguous submission, and everything on deletion."""

from __future__ import annotations

from ..constants import CUSTOM_FIELD_EVALJOB_UID
from ..evaluator.errors import ConflictError, NotFoundError
from ..evaluator.models import EvaluationJob, JobStatus
from ..models import EvalJob
from .ports import EvaluatorPort

__all__ = ["TERMINAL_STATES", "cleanup_job", "remove_duplicates"]

TERMINAL_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


async def cleanup_job(ej: EvalJob, evaluator: EvaluatorPort) -> bool:
    """Cancel and delete every NeMo job of this EvalJob; True once none is left.

    Jobs are found by the EvalJob's UID tag as well as by status.jobId, so a job created by an
    interrupted or duplicated submission is not left behind.
    """
    if ej.status.job_id is None and ej.status.submission_started_at is None:
        return True  # never submitted: nothing in NeMo to clean up
    tagged = await evaluator.find_jobs(CUSTOM_FIELD_EVALJOB_UID, ej.metadata.uid)
    ids = {job.id for job in _ours(tagged, ej.metadata.uid)}
    if ej.status.job_id:
        ids.add(ej.status.job_id)
    done = [await _remove(evaluator, job_id) for job_id in sorted(ids)]
    return all(done)


async def remove_duplicates(evaluator: EvaluatorPort, uid: str, keep: str) -> bool:
    """Cancel and delete jobs tagged with `uid` other than `keep`; True once none is left.

    Without an idempotency key a POST that timed out may still be processed by NeMo after the
    operator posted again; this is what brings such an EvalJob back to exactly one job.
    """
    tagged = await evaluator.find_jobs(CUSTOM_FIELD_EVALJOB_UID, uid)
    extras = [job.id for job in _ours(tagged, uid) if job.id != keep]
    done = [await _remove(evaluator, job_id) for job_id in extras]
    return all(done)


def _ours(jobs: list[EvaluationJob], uid: str) -> list[EvaluationJob]:
    return [job for job in jobs if job.custom_fields.get(CUSTOM_FIELD_EVALJOB_UID) == uid]


async def _remove(evaluator: EvaluatorPort, job_id: str) -> bool:
    """Cancel a live job, else delete it; True once it is gone, False while it cancels."""
    try:
        job = await evaluator.get_job(job_id)
        if job.state not in TERMINAL_STATES:
            if job.state is not JobStatus.CANCELLING:
                await evaluator.cancel_job(job_id)
            return False
        await evaluator.delete_job(job_id)
    except NotFoundError:
        return True
    except ConflictError:
        return False  # NeMo refused for now (e.g. still cancelling): try again shortly
    return True

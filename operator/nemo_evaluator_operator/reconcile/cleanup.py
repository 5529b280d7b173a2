"""Deleting an EvalJob: cancel and delete its NeMo job, per deletionPolicy."""

from __future__ import annotations

from ..constants import CUSTOM_FIELD_EVALJOB_UID
from ..evaluator.errors import ConflictError, NotFoundError
from ..evaluator.models import JobStatus
from ..models import EvalJob
from .ports import EvaluatorPort
from .submission import pick_adopted

__all__ = ["TERMINAL_STATES", "cleanup_job"]

TERMINAL_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


async def cleanup_job(ej: EvalJob, evaluator: EvaluatorPort) -> bool:
    """Cancel a live job, then delete it; True once nothing is left, False while it cancels.

    A job that an interrupted submission may have created is found by its UID tag, so a crash
    right after the POST does not leave an orphan behind.
    """
    job_id = ej.status.job_id
    if job_id is None and ej.status.submission_started_at is not None:
        found = await evaluator.find_jobs(CUSTOM_FIELD_EVALJOB_UID, ej.metadata.uid)
        adopted = pick_adopted(found, ej.metadata.uid)
        job_id = adopted.id if adopted else None
    if job_id is None:
        return True
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

"""EvalJob handlers: a timer that reconciles active EvalJobs, and the finalizer.

Terminal EvalJobs match no timer, so they cost no NeMo request and no asyncio task.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import kopf

from ..constants import EVALJOB_PLURAL, GROUP, VERSION, Reason
from ..evaluator.errors import EvaluatorError
from ..models import DeletionPolicy, EvalJob, EvalJobPhase
from ..reconcile.cleanup import cleanup_job
from ..reconcile.evaljob import EvalJobContext, reconcile_evaljob
from ..reconcile.failures import classify
from .glue import backoff, parse, post_events, write_status
from .runtime import runtime

__all__ = ["finalize_evaljob", "is_active", "poll_evaljob", "track_phase"]

# kopf reads timer intervals when the decorator runs, before startup; so read the env here.
POLL_INTERVAL = float(os.environ.get("OPERATOR_POLL_INTERVAL") or 10.0)
_TERMINAL = {phase.value for phase in EvalJobPhase if phase.is_terminal}
_JOB_ID_MEMO = "submitted_job_id"


def is_active(status: kopf.Status, **_: Any) -> bool:
    """Only EvalJobs that are not finished get a timer."""
    return status.get("phase") not in _TERMINAL


@kopf.timer(GROUP, VERSION, EVALJOB_PLURAL, interval=POLL_INTERVAL, when=is_active)
async def poll_evaljob(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any
) -> None:
    """Submit, observe, cancel or finish, from the EvalJob as it is now."""
    retry = int(kwargs.get("retry", 0))
    rt = runtime(memo)
    ej = parse(EvalJob, body)
    ctx = EvalJobContext(
        evaluator=rt.jobs,
        kube=rt.kube,
        grace_seconds=rt.settings.dependency_grace_seconds,
        now=datetime.now(UTC),
        known_job_id=memo.get(_JOB_ID_MEMO),
    )
    transition = await reconcile_evaljob(ej, ctx)
    if ctx.known_job_id:
        memo[_JOB_ID_MEMO] = ctx.known_job_id
    write_status(patch, ej.status, transition.status)
    post_events(body, transition.events)
    for event in transition.events:
        logger.info("%s: %s", event.reason, event.message)
        if event.reason == Reason.SUBMITTED:
            rt.metrics.submissions.labels(
                "adopted" if "adopted" in event.message else "created"
            ).inc()
    rt.metrics.mark_observed(ej.metadata.uid)
    if transition.retry_after is None:
        rt.stats["last_evaluator_ok"] = time.time()
        return
    reason = next((c.reason for c in transition.status.conditions if c.type == "Reconciling"), "")
    rt.metrics.reconcile_errors.labels("EvalJob", reason).inc()
    delay = max(
        transition.retry_after, backoff(retry, rt.settings.poll_interval, rt.settings.max_backoff)
    )
    raise kopf.TemporaryError(transition.status.message or "retrying", delay=delay)


@kopf.on.event(GROUP, VERSION, EVALJOB_PLURAL)
def track_phase(
    event: kopf.RawEvent, status: kopf.Status, uid: str, memo: kopf.Memo, **_: Any
) -> None:
    """Keep the EvalJobs-by-phase gauge current from the watch stream (no API calls)."""
    phase = None if event.get("type") == "DELETED" else status.get("phase") or "Pending"
    runtime(memo).metrics.track_phase(uid, phase, active=phase not in _TERMINAL)


@kopf.on.delete(GROUP, VERSION, EVALJOB_PLURAL)
async def finalize_evaljob(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """Cancel and delete the NeMo job (policy Delete) or leave it (Orphan); never block forever."""
    rt = runtime(memo)
    ej = parse(EvalJob, body)
    job = ej.status.job_id or "none"
    if ej.spec.deletion_policy is DeletionPolicy.ORPHAN:
        kopf.info(
            body,
            reason=Reason.ORPHANED,
            message=f"Left NeMo job {job} in place (deletionPolicy Orphan)",
        )
        return
    problem: str
    try:
        if await cleanup_job(ej, rt.evaluator):
            logger.info("Cleaned up NeMo job %s", job)
            return
        problem = f"NeMo job {job} is still cancelling"
    except EvaluatorError as err:
        problem = classify(err, f"clean up job {job}").message
    if retry + 1 >= rt.settings.delete_max_attempts:
        message = f"Gave up cleaning up NeMo job {job} after {retry + 1} attempts: {problem}"
        kopf.warn(body, reason=Reason.CLEANUP_ABANDONED, message=message)
        logger.warning(message)
        return
    raise kopf.TemporaryError(problem, delay=backoff(retry, 1.0, 30.0))

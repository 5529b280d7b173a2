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
from ..models import DeletionPolicy, EvalJob, EvalJobPhase, EvalJobStatus
from ..reconcile.cleanup import cleanup_job
from ..reconcile.evaljob import EvalJobContext, acknowledge_generation, reconcile_evaljob
from ..reconcile.evaljob_status import Transition
from ..reconcile.failures import classify
from .glue import backoff, parse, post_events, retry_or_give_up, write_status
from .runtime import Runtime, runtime

__all__ = [
    "acknowledge_finished",
    "finalize_evaljob",
    "is_active",
    "is_finished",
    "poll_evaljob",
    "track_phase",
]

# kopf reads timer intervals when the decorator runs, before startup; so read the env here.
POLL_INTERVAL = float(os.environ.get("OPERATOR_POLL_INTERVAL") or 10.0)
# Unexpected errors (e.g. the Kubernetes API restarting) retry after this, not kopf's 60 s.
ERROR_BACKOFF = min(POLL_INTERVAL, 5.0)
_TERMINAL = {phase.value for phase in EvalJobPhase if phase.is_terminal}
_JOB_ID_MEMO = "submitted_job_id"
_FINISHED_MEMO = "finished_status"
_CLEAN_MEMO = "clean_submission"


def is_active(status: kopf.Status, **_: Any) -> bool:
    """Only EvalJobs that are not finished get a timer."""
    return status.get("phase") not in _TERMINAL


@kopf.timer(
    GROUP, VERSION, EVALJOB_PLURAL, interval=POLL_INTERVAL, backoff=ERROR_BACKOFF, when=is_active
)
async def poll_evaljob(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any
) -> None:
    """Submit, observe, cancel or finish, from the EvalJob as it is now."""
    rt = runtime(memo)
    ej = parse(EvalJob, body)
    finished = memo.get(_FINISHED_MEMO)
    if isinstance(finished, EvalJobStatus) and finished.job_id == ej.status.job_id:
        # Finished already, but the watch has not shown our final status write yet (or that
        # write failed): write it again rather than fetch and store the results twice.
        write_status(patch, ej.status, finished)
        return
    ctx = EvalJobContext(
        evaluator=rt.evaluator,
        kube=rt.kube,
        default_namespace=rt.settings.evaluator_namespace,
        grace_seconds=rt.settings.dependency_grace_seconds,
        resubmit_after=2 * rt.settings.request_timeout,
        now=datetime.now(UTC),
        known_job_id=memo.get(_JOB_ID_MEMO),
        clean_submission=bool(memo.get(_CLEAN_MEMO)),
    )
    try:
        transition = await reconcile_evaljob(ej, ctx)
    finally:  # even if recording the id failed, this process must never post it again
        if ctx.known_job_id:
            memo[_JOB_ID_MEMO] = ctx.known_job_id
            memo[_CLEAN_MEMO] = ctx.clean_submission
    write_status(patch, ej.status, transition.status)
    if transition.status.phase is not None and transition.status.phase.is_terminal:
        memo[_FINISHED_MEMO] = transition.status
    _report(body, rt, ej, transition, logger)
    if transition.retry_after is not None:
        retry = int(kwargs.get("retry", 0))
        pause = backoff(retry, rt.settings.poll_interval, rt.settings.max_backoff)
        delay = max(transition.retry_after, pause)
        why = next((c.message for c in transition.status.conditions if c.type == "Reconciling"), "")
        raise kopf.TemporaryError(why or "retrying", delay=delay)


def _report(
    body: kopf.Body, rt: Runtime, ej: EvalJob, transition: Transition, logger: kopf.Logger
) -> None:
    """Events, log lines and metrics for one reconcile step."""
    post_events(body, transition.events)
    for event in transition.events:
        logger.info("%s: %s", event.reason, event.message)
        if event.reason == Reason.SUBMITTED:
            how = "adopted" if "adopted" in event.message else "created"
            rt.metrics.submissions.labels(how).inc()
    rt.metrics.mark_observed(ej.metadata.uid)
    if transition.retry_after is None:
        rt.stats["last_evaluator_ok"] = time.time()
        return
    reason = next((c.reason for c in transition.status.conditions if c.type == "Reconciling"), "")
    rt.metrics.reconcile_errors.labels("EvalJob", reason).inc()


def is_finished(status: kopf.Status, **_: Any) -> bool:
    return not is_active(status)


@kopf.on.update(
    GROUP, VERSION, EVALJOB_PLURAL, field="spec", backoff=ERROR_BACKOFF, when=is_finished
)
async def acknowledge_finished(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """A finished EvalJob has no timer; still record that its new generation was seen.

    Otherwise a late `cancel: true` on a finished EvalJob would leave observedGeneration
    behind forever, and Argo CD / kstatus would report it as progressing.
    """
    ej = parse(EvalJob, body)
    write_status(patch, ej.status, acknowledge_generation(ej))


@kopf.on.event(GROUP, VERSION, EVALJOB_PLURAL)
def track_phase(
    event: kopf.RawEvent, status: kopf.Status, uid: str, memo: kopf.Memo, **_: Any
) -> None:
    """Keep the EvalJobs-by-phase gauge current from the watch stream (no API calls)."""
    phase = None if event.get("type") == "DELETED" else status.get("phase") or "Pending"
    runtime(memo).metrics.track_phase(uid, phase, active=phase not in _TERMINAL)


@kopf.on.delete(GROUP, VERSION, EVALJOB_PLURAL, backoff=ERROR_BACKOFF)
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
        if await cleanup_job(ej, rt.evaluator, rt.settings.evaluator_namespace):
            logger.info("Cleaned up NeMo job %s", job)
            return
        problem = f"NeMo job {job} is still cancelling"
    except EvaluatorError as err:
        problem = classify(err, f"clean up job {job}").message
    attempts = rt.settings.delete_max_attempts
    retry_or_give_up(body, retry, attempts, f"NeMo job {job}", problem, logger)

"""EvalJobs: an index fed by watch events, one step per object at a time, one poller for all.

- Watch events only update the index and kick the objects that need a step now: new ones,
  ones whose spec changed (e.g. `cancel: true`), ones being deleted. Our own status writes
  come back as events too, and kick nothing.
- The poller reads every submitted, active EvalJob's job in one batched observation per
  interval and steps only the EvalJobs whose job changed, or that must act (cancel, deadline,
  finish). EvalJobs waiting for a Benchmark or Secret are stepped once per interval.
- Deletion runs under the same per-object lock as the steps (so it waits for a POST in flight)
  and keeps trying for a time budget counted from the deletion request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from ..constants import FINALIZER, Reason
from ..errors import KubernetesError
from ..evaluator.errors import EvaluatorError
from ..evaluator.port import EvaluatorPort, JobObservation, JobRef
from ..models import DeletionPolicy, EvalJob, EvalJobPhase
from ..reconcile.cleanup import cleanup_job
from ..reconcile.conditions import seconds_since
from ..reconcile.evaljob import EvalJobContext, acknowledge_generation, reconcile_evaljob
from ..reconcile.evaljob_status import EventSpec, Transition
from ..reconcile.exactly_once import Attempt, marker_of
from ..reconcile.failures import classify
from ..reconcile.runs import RunRecord, run_record
from .cluster import ClusterView, EventSink, Knobs, status_dict
from .workqueue import Workqueue

__all__ = ["EvalJobEngine"]

log = logging.getLogger(__name__)

TERMINAL = frozenset(p.value for p in EvalJobPhase if p.is_terminal)
SUCCEEDED = EvalJobPhase.SUCCEEDED.value
PROGRESS_FIELDS = frozenset({"progress", "samplesProcessed", "taskStatus", "message"})


@dataclass
class Entry:
    """What the engine holds for one EvalJob."""

    uid: str
    namespace: str
    name: str
    benchmark: str = ""  # spec.benchmarkRef.name (immutable)
    labels: dict[str, str] = field(default_factory=dict)  # for baseline selectors
    body: dict[str, Any] | None = None  # kept while active or being deleted; None once finished
    phase: str | None = None
    generation: int = 0
    handled_generation: int = -1  # the generation of the last step that ran to the end
    working_generation: int = -1  # the generation the running (or last) step began with
    known_status: dict[str, Any] = field(default_factory=dict)  # the body's, plus our writes
    resource_version: str = ""
    attempt: Attempt | None = None
    last_seen: JobObservation | None = None  # the last observation a step acted on
    observed: JobObservation | None = None  # handed from the poller to the next step
    observe_error: EvaluatorError | None = None
    missing_polls: int = 0
    last_write: float = float("-inf")  # monotonic time of our last status write
    deferred: bool = False  # a progress-only write was held back by the throttle
    backoff_until: float = float("-inf")  # monotonic; no optional steps before this
    retry: int = 0
    stepped_at: float = float("-inf")  # monotonic; when the last step began or ended
    deletion: asyncio.Task[None] | None = None
    record: RunRecord | None = None  # this EvalJob as a run; rebuilt after its status changes

    @property
    def run(self) -> RunRecord:
        if self.record is None:
            self.record = run_record(
                self.uid, self.namespace, self.name, self.benchmark, self.labels, self.known_status
            )
        return self.record

    @property
    def active(self) -> bool:
        return self.phase not in TERMINAL

    @property
    def job_ref(self) -> JobRef | None:
        job_id = self.known_status.get("jobId")
        if not job_id:
            return None
        namespace = self.known_status.get("evaluatorNamespace") or (
            str(self.known_status.get("configName", "")).partition("/")[0] or "default"
        )
        return JobRef(str(namespace), str(job_id))


class EvalJobEngine:
    """Everything that happens to EvalJobs, driven by `on_event` and `poll_forever`."""

    def __init__(
        self, evaluator: EvaluatorPort, cluster: ClusterView, events: EventSink, knobs: Knobs
    ) -> None:
        self.evaluator = evaluator
        self.cluster = cluster
        self.events = events
        self.knobs = knobs
        self.entries: dict[str, Entry] = {}
        self.queue: Workqueue[str] = Workqueue(self._step, knobs.concurrency)
        self.last_evaluator_ok: float | None = None
        self.batches = 0
        self.on_run_changed: Callable[[str, str], None] = lambda _ns, _bm: None  # leaderboards

    # ----------------------------------------------------------------- watch events

    def on_event(self, kind: str | None, body: Mapping[str, Any]) -> None:
        """Index one watch event (kopf's initial listing comes with `kind` None)."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        if kind == "DELETED":
            self._forget(uid)
            return
        entry = self.entries.get(uid)
        first = entry is None
        if entry is None:
            entry = self.entries[uid] = Entry(
                uid, str(meta.get("namespace")), str(meta.get("name"))
            )
            # Progress-only writes start throttled: after a restart, 1,000 running EvalJobs
            # must not all rewrite their progress in the first interval.
            entry.last_write = time.monotonic()
        version = str(meta.get("resourceVersion") or "")
        if version and entry.resource_version and _older(version, entry.resource_version):
            return  # an event from before one of our own writes
        status = body.get("status") or {}
        entry.resource_version = version
        entry.generation = int(meta.get("generation") or 0)
        entry.labels = dict(meta.get("labels") or {})
        entry.benchmark = str(((body.get("spec") or {}).get("benchmarkRef") or {}).get("name", ""))
        entry.known_status = dict(status)
        entry.record = None
        phase = status.get("phase")
        self.cluster.metrics.set_phase(uid, phase or "Pending", entry.namespace)
        self.cluster.metrics.scores.observe(uid, entry.namespace, entry.benchmark, status)
        if SUCCEEDED in (phase, entry.phase):
            self.on_run_changed(entry.namespace, entry.benchmark)
        entry.phase = phase
        deleting = bool(meta.get("deletionTimestamp"))
        entry.body = dict(body) if (entry.active or deleting) else None
        if deleting:
            if FINALIZER in (meta.get("finalizers") or []) and entry.deletion is None:
                entry.deletion = asyncio.get_running_loop().create_task(self._delete(uid))
            return
        if not entry.active:
            if status.get("observedGeneration") != entry.generation:
                entry.body = dict(body)
                self.queue.kick(uid)  # acknowledge a late spec change (e.g. cancel)
            return
        if first and entry.job_ref is not None:
            # Resumed after a restart, already submitted: the poller's first batch covers it
            # (cancel and deadlines included), so there is no burst of one read per job.
            entry.handled_generation = entry.generation
            return
        if first or entry.generation not in (entry.handled_generation, entry.working_generation):
            # New, or its spec changed (cancel acts at once). Events that our own writes cause
            # while a step works on this generation kick nothing: the poller covers the rest.
            self.queue.kick(uid)

    def runs(self, namespace: str) -> list[RunRecord]:
        """Every EvalJob of a namespace as a run, with our own status writes included."""
        return [e.run for e in self.entries.values() if e.namespace == namespace]

    def benchmark_ready(self, namespace: str, name: str) -> None:
        """A Benchmark just became Ready: the EvalJobs waiting for it go now, not next poll."""
        for entry in self.entries.values():
            if entry.namespace != namespace or not entry.active or entry.job_ref is not None:
                continue
            ref = ((entry.body or {}).get("spec") or {}).get("benchmarkRef") or {}
            if ref.get("name") == name:
                self.queue.kick(entry.uid)

    def _forget(self, uid: str) -> None:
        entry = self.entries.pop(uid, None)
        self.queue.forget(uid)
        if entry is not None and entry.phase == SUCCEEDED:
            self.on_run_changed(entry.namespace, entry.benchmark)
        self.cluster.metrics.set_phase(uid, None)
        self.cluster.metrics.scores.forget(uid)
        if entry is not None and entry.deletion is not None and not entry.deletion.done():
            entry.deletion.cancel()

    # ----------------------------------------------------------------- the poller

    async def poll_forever(self) -> None:
        """One batched observation of all active, submitted EvalJobs per interval."""
        while True:
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception:
                log.exception("Polling failed; trying again next interval")
            spent = time.monotonic() - started
            await asyncio.sleep(max(self.knobs.poll_interval - spent, 0.1))

    async def poll_once(self) -> None:
        now = time.monotonic()
        submitted: dict[JobRef, Entry] = {}
        for entry in list(self.entries.values()):
            if not entry.active or entry.body is None or entry.deletion is not None:
                continue
            if self.queue.busy(entry.uid):
                # Its step is queued or running and acts on what it has (an observation, a
                # submission): a read now would be discarded, and another kick would only add
                # a step after it.
                continue
            ref = entry.job_ref
            if ref is None:
                if entry.backoff_until <= now:
                    self.queue.kick(entry.uid)  # waiting for a Benchmark, a Secret, a quiet period
            else:
                submitted[ref] = entry
        if not submitted:
            return
        self.batches += 1
        began = time.monotonic()
        try:
            batch = await self.evaluator.observe_many(list(submitted))
        except EvaluatorError as err:
            for entry in submitted.values():
                entry.observe_error = err
                self._kick_if(entry, now, urgent=self._urgent(entry, None))
            return
        self.last_evaluator_ok = time.time()
        for ref, entry in submitted.items():
            self.cluster.metrics.mark_observed(entry.uid)
            if entry.stepped_at >= began or self.queue.lock(entry.uid).locked():
                # A step ran or runs (e.g. a cancel is being sent) while this batch was read:
                # what the batch saw may be older than what that step did. The next is fresh.
                continue
            job = batch.jobs.get(ref)
            if job is not None:
                entry.missing_polls = 0
                entry.observe_error = None
                urgent = self._urgent(entry, job)
                if (
                    _moved(job, entry.last_seen)
                    or urgent
                    or job.state.is_terminal
                    or entry.deferred
                ):
                    entry.observed = job
                    self._kick_if(entry, now, urgent=urgent)
            elif ref in batch.missing:
                entry.missing_polls += 1
                entry.observe_error = None
                self._kick_if(entry, now, urgent=True)
            else:
                error = batch.failed.get(ref)
                entry.observe_error = error if isinstance(error, EvaluatorError) else None
                self._kick_if(entry, now, urgent=self._urgent(entry, None))

    def _kick_if(self, entry: Entry, now: float, urgent: bool) -> None:
        """Kick unless backing off; cancel and deadlines act within one interval regardless."""
        if urgent or entry.backoff_until <= now:
            self.queue.kick(entry.uid)

    def _urgent(self, entry: Entry, job: JobObservation | None) -> bool:
        """Cancel and a passed deadline act within one interval, even while backing off."""
        body = entry.body or {}
        spec = body.get("spec") or {}
        if job is not None and job.state.is_terminal:
            return False  # finishing (results, ConfigMaps) retries with backoff
        cancelling = job is not None and job.state.value == "Cancelling"
        if spec.get("cancel") and not cancelling:
            return True
        limit = spec.get("activeDeadlineSeconds")
        created = (body.get("metadata") or {}).get("creationTimestamp")
        return bool(
            limit and created and not cancelling and seconds_since(created, _utcnow()) > limit
        )

    # ----------------------------------------------------------------- one step

    async def _step(self, uid: str) -> float | None:
        entry = self.entries.get(uid)
        if entry is None or entry.body is None or entry.deletion is not None:
            return None
        body, generation = entry.body, entry.generation
        entry.stepped_at = time.monotonic()
        entry.working_generation = generation
        try:
            ej = _parse(body, entry.known_status, entry.resource_version)
        except ValidationError as err:
            log.warning("EvalJob %s/%s cannot be read: %s", entry.namespace, entry.name, err)
            return None
        if not entry.active:
            await self._write(entry, ej, Transition(acknowledge_generation(ej)), force=True)
            entry.handled_generation = generation
            entry.body = None
            return None
        ctx = EvalJobContext(
            evaluator=self.evaluator,
            kube=self.cluster,
            grace_seconds=self.knobs.grace_seconds,
            now=_utcnow(),
            default_namespace=self.knobs.default_namespace,
            resubmit_after=self.knobs.quiet_seconds,
            instance=self.knobs.instance,
            attempt=entry.attempt,
            batched=entry.observed is not None
            or entry.observe_error is not None
            or entry.missing_polls > 0,
            observed=entry.observed,
            observe_error=entry.observe_error,
            missing_polls=entry.missing_polls,
        )
        entry.observed, entry.observe_error = None, None
        submitted = ej.status.job_id
        try:
            transition = await reconcile_evaljob(ej, ctx)
        finally:
            entry.attempt = ctx.attempt  # even if the step failed after a POST: never post twice
            entry.stepped_at = time.monotonic()
        if ctx.observed is not None:
            entry.last_seen = ctx.observed
        entry.missing_polls = ctx.missing_polls
        await self._write(entry, ej, transition)
        self._report(body, entry, transition, submitted)
        entry.handled_generation = generation
        if transition.retry_after is not None:
            # Retry-After is honoured, up to the backoff ceiling.
            delay = min(max(transition.retry_after, self._backoff(entry)), self.knobs.max_backoff)
            entry.backoff_until = time.monotonic() + delay
            return delay if entry.known_status.get("jobId") is None else None
        entry.retry, entry.backoff_until = 0, float("-inf")
        return None

    def _backoff(self, entry: Entry) -> float:
        entry.retry += 1
        base, ceiling = self.knobs.poll_interval, self.knobs.max_backoff
        return float(min(ceiling, base * (2 ** min(entry.retry - 1, 16))))

    async def _write(
        self, entry: Entry, ej: EvalJob, transition: Transition, force: bool = False
    ) -> None:
        """Write what changed; hold back progress-only changes within the throttle interval."""
        old, new = entry.known_status, status_dict(transition.status)
        changed = {k: new.get(k) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
        if not changed:
            entry.deferred = False
            return
        now = time.monotonic()
        if (
            not force
            and set(changed) <= PROGRESS_FIELDS
            and now - entry.last_write < self.knobs.progress_interval
        ):
            entry.deferred = True
            return
        try:
            version = await self.cluster.writer.evaljob(
                entry.namespace, entry.name, changed, generation=entry.generation
            )
        except KubernetesError as err:
            if err.status == 404:
                return  # gone meanwhile
            raise
        entry.known_status = {**old, **{k: v for k, v in changed.items() if v is not None}}
        entry.record = None
        for key, value in changed.items():
            if value is None:
                entry.known_status.pop(key, None)
        entry.resource_version = version or entry.resource_version
        entry.last_write, entry.deferred = now, False
        phase = entry.known_status.get("phase")
        if not set(changed) <= PROGRESS_FIELDS:
            self.cluster.metrics.scores.observe(
                entry.uid, entry.namespace, entry.benchmark, entry.known_status
            )
        if phase != entry.phase:
            entry.phase = phase
            self.cluster.metrics.set_phase(entry.uid, phase or "Pending", entry.namespace)
            if phase == SUCCEEDED:
                self.on_run_changed(entry.namespace, entry.benchmark)
            if not entry.active:
                entry.body = None  # finished: nothing more to do for it

    def _report(
        self, body: Mapping[str, Any], entry: Entry, transition: Transition, submitted: str | None
    ) -> None:
        self.events.post(body, transition.events)
        for event in transition.events:
            log.info(
                "EvalJob %s/%s: %s: %s", entry.namespace, entry.name, event.reason, event.message
            )
        if transition.submitted and not submitted:
            log.info("EvalJob %s/%s: %s", entry.namespace, entry.name, transition.status.message)
            self.cluster.metrics.submissions.labels(transition.submitted).inc()
        if transition.duplicates:
            self.cluster.metrics.duplicates.inc(transition.duplicates)
        if transition.retry_after is None:
            self.last_evaluator_ok = time.time()
            return
        reason = next(
            (c.reason for c in transition.status.conditions if c.type == "Reconciling"), ""
        )
        self.cluster.metrics.reconcile_errors.labels("EvalJob", reason).inc()

    # ----------------------------------------------------------------- deletion

    async def _delete(self, uid: str) -> None:
        """Clean up in the evaluator within the budget, then release the object."""
        async with self.queue.lock(uid):  # a step in flight (a POST) finishes first
            while True:
                entry = self.entries.get(uid)
                if entry is None or entry.body is None:
                    return
                meta = entry.body.get("metadata") or {}
                if FINALIZER not in (meta.get("finalizers") or []):
                    return
                try:
                    if await self._clean_up(entry):
                        await self._release(entry)
                        return
                    problem = "the job is still being cancelled"
                except EvaluatorError as err:
                    problem = classify(err, "clean up the job").message
                except KubernetesError as err:
                    problem = f"Kubernetes API error: {err.message}"
                    if err.status == 404:
                        return
                except Exception as err:  # a bug must not leave the object stuck for good
                    log.exception("Deleting EvalJob %s/%s failed", entry.namespace, entry.name)
                    problem = f"internal error: {type(err).__name__}"
                if self._budget_left(entry) <= 0:
                    job = entry.known_status.get("jobId") or "(none)"
                    message = (
                        f"Gave up cleaning up NeMo job {job} after "
                        f"{self.knobs.delete_budget:.0f}s: {problem}"
                    )
                    self.events.post(
                        entry.body, [EventSpec("Warning", Reason.CLEANUP_ABANDONED, message)]
                    )
                    log.warning("EvalJob %s/%s: %s", entry.namespace, entry.name, message)
                    await self._release(entry)
                    return
                await asyncio.sleep(self.knobs.poll_interval)

    async def _clean_up(self, entry: Entry) -> bool:
        assert entry.body is not None
        ej = _parse(entry.body, entry.known_status, entry.resource_version)
        if ej.spec.deletion_policy is DeletionPolicy.ORPHAN:
            job = ej.status.job_id or "none"
            message = f"Left NeMo job {job} in place (deletionPolicy Orphan)"
            self.events.post(entry.body, [EventSpec("Normal", Reason.ORPHANED, message)])
            return True
        wait_until = None
        attempt = entry.attempt
        if not self.evaluator.idempotent_submit and ej.status.job_id is None:
            marker = marker_of(ej)
            ended = attempt.ended if attempt and attempt.ended else marker.at if marker else None
            if ended is not None:  # an unanswered v1 POST may still create a job: wait for it
                wait_until = ended + timedelta(seconds=self.knobs.quiet_seconds)
        known = attempt.job_id if attempt else None
        done = await cleanup_job(ej, self.evaluator, self.knobs.default_namespace, known)
        return done and (wait_until is None or _utcnow() >= wait_until)

    def _budget_left(self, entry: Entry) -> float:
        requested = ((entry.body or {}).get("metadata") or {}).get("deletionTimestamp")
        spent = seconds_since(requested, _utcnow()) if requested else 0.0
        return self.knobs.delete_budget - spent

    async def _release(self, entry: Entry) -> None:
        assert entry.body is not None
        meta = entry.body.get("metadata") or {}
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        try:
            await self.cluster.kube.patch_evaljob_metadata(
                entry.namespace,
                entry.name,
                {"finalizers": finalizers or None},
                entry.resource_version,
            )
        except KubernetesError as err:
            if err.status == 409:  # changed meanwhile: the next event brings the fresh body
                entry.deletion = None
                return
            if err.status != 404:
                raise


def _parse(body: Mapping[str, Any], status: Mapping[str, Any], version: str) -> EvalJob:
    """The EvalJob with the status as we know it (our writes may be ahead of the watch)."""
    meta = {**(body.get("metadata") or {}), "resourceVersion": version}
    return EvalJob.model_validate({**body, "metadata": meta, "status": dict(status)})


def _moved(job: JobObservation, last: JobObservation | None) -> bool:
    if last is None:
        return True
    return (
        job.state,
        job.raw_state,
        job.progress,
        job.samples_processed,
        job.message,
        dict(job.task_status),
    ) != (
        last.state,
        last.raw_state,
        last.progress,
        last.samples_processed,
        last.message,
        dict(last.task_status),
    )


def _older(version: str, than: str) -> bool:
    """resourceVersions are opaque, but etcd's are integers: compare them when they are."""
    try:
        return int(version) < int(than)
    except ValueError:
        return False


def _utcnow() -> datetime:
    return datetime.now(UTC)

"""Submit each EvalJob's job to the evaluator exactly once: the whole protocol, in one place.

See docs/exactly-once.md for the state diagram. In short:

1. **Mark** before any POST: one metadata patch adds our finalizer and the marker annotation
   (attempt number, time, process), with the EvalJob's resourceVersion as a precondition. Two
   operator processes that both try it for one EvalJob cannot both succeed (the second gets
   409), so at most one of them posts.
2. **POST**, then write `status.jobId` at once.
3. A marker without a job id (a crash, a lost answer, another process's attempt) means a job
   may exist: **look it up** (v1: by the UID tag; Helix: by its name) and adopt it.
4. Not found: on Helix post again at once (the job name is the key: a second POST answers 409
   and is adopted). On v1, post again only after a quiet period counted from the *end* of the
   last attempt, so a POST that NeMo is still processing is not doubled.
5. Never a POST once `spec.cancel` is set, the deadline passed or the EvalJob is being deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..constants import FINALIZER, MARKER_ANNOTATION, Reason
from ..errors import KubernetesError
from ..evaluator.errors import EvaluatorError
from ..evaluator.port import EvaluatorPort, JobObservation, SubmitRequest
from ..models import EvalJob
from .ports import KubePort
from .submission import Dependencies, owner_of, pick_adopted

__all__ = [
    "Attempt",
    "Marker",
    "Outcome",
    "marker_of",
    "marker_patch",
    "submit_once",
]


@dataclass(frozen=True)
class Marker:
    """The submission marker on the EvalJob: attempt `number` began at `at`, in process `by`."""

    number: int
    at: datetime
    by: str = ""

    def to_json(self) -> str:
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({"attempt": self.number, "at": stamp, "by": self.by}, sort_keys=True)


@dataclass
class Attempt:
    """What this process knows about its own latest attempt (kept between reconcile steps)."""

    marker: Marker
    ended: datetime | None = None  # when the POST came back, or failed
    job_id: str | None = None
    clean: bool = False  # the answer to the first POST carried the id: no duplicate can exist


@dataclass(frozen=True)
class Outcome:
    """What a submission step did: a job to record, or why there is none yet."""

    job: JobObservation | None = None
    reason: str = Reason.SUBMITTED
    waiting: str | None = None  # a message: nothing was posted, look again later
    error: EvaluatorError | None = None  # the POST (or look-up) failed
    stopped: bool = False  # cancel, deadline or deletion came first and no job exists


def marker_of(ej: EvalJob) -> Marker | None:
    """The marker annotation, or the older `status.submissionStartedAt` (same meaning)."""
    raw = ej.metadata.annotations.get(MARKER_ANNOTATION)
    if raw:
        try:
            data = json.loads(raw)
            at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
            return Marker(int(data["attempt"]), at, str(data.get("by", "")))
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: treat as an attempt of unknown time, below
        return Marker(1, datetime.fromtimestamp(0, UTC))
    started = ej.status.submission_started_at
    if started:
        return Marker(1, datetime.fromisoformat(started.replace("Z", "+00:00")))
    return None


async def submit_once(
    ej: EvalJob,
    deps: Dependencies,
    evaluator: EvaluatorPort,
    kube: KubePort,
    *,
    now: datetime,
    attempt: Attempt | None,
    instance: str,
    quiet_seconds: float,
    stop: bool,
) -> tuple[Outcome, Attempt | None]:
    """One step of the protocol for an EvalJob that has no job id yet.

    `stop` is true when cancel, the deadline or deletion forbids a new POST. Returns what
    happened and the attempt to remember for the next step.
    """
    marker = marker_of(ej)
    owner = owner_of(ej)
    namespace = deps.benchmark.namespace
    if marker is not None or attempt is not None:
        try:
            found = pick_adopted(list(await evaluator.find_jobs(namespace, owner)), owner.uid)
        except EvaluatorError as err:
            return Outcome(error=err), attempt
        if found is not None:
            return Outcome(job=found, reason=Reason.ADOPTED), attempt
        if stop:
            return Outcome(stopped=True), attempt
        if not evaluator.idempotent_submit:
            since = _quiet_from(marker, attempt, quiet_seconds)
            left = quiet_seconds - (now - since).total_seconds()
            if left > 0:
                message = (
                    f"Waiting {left:.0f}s more for an earlier submission attempt to appear in "
                    "NeMo before posting again"
                )
                return Outcome(waiting=message), attempt
    elif stop:
        return Outcome(stopped=True), attempt
    number = max(marker.number if marker else 0, attempt.marker.number if attempt else 0) + 1
    new = Marker(number, now, instance)
    meta = ej.metadata
    try:
        await kube.patch_evaljob_metadata(
            meta.namespace, meta.name, marker_patch(ej, new), meta.resource_version or None
        )
    except KubernetesError as err:
        if err.status == 409:  # someone else changed it (maybe marked it): look again later
            return Outcome(waiting="The EvalJob changed while submitting; looking again"), attempt
        raise
    current = Attempt(marker=new)
    request = SubmitRequest(
        namespace=namespace,
        owner=owner,
        benchmark=deps.benchmark,
        target=ej.spec.target,
        api_key=deps.api_key,
    )
    try:
        job = await evaluator.submit(request)
    except EvaluatorError as err:
        current.ended = datetime.now(UTC)
        return Outcome(error=err), current
    current.ended = datetime.now(UTC)
    current.job_id = job.ref.job_id
    current.clean = marker is None and attempt is None and not job.adopted
    return Outcome(job=job, reason=Reason.ADOPTED if job.adopted else Reason.SUBMITTED), current


def _quiet_from(marker: Marker | None, attempt: Attempt | None, quiet_seconds: float) -> datetime:
    """When the last attempt ended: known in this process, else its start plus one quiet period
    (the longest an unanswered POST can have been on its way)."""
    if attempt is not None and attempt.ended is not None:
        return attempt.ended
    start = attempt.marker.at if attempt is not None else marker.at if marker else datetime.now(UTC)
    return start + timedelta(seconds=quiet_seconds / 2)


def marker_patch(ej: EvalJob, marker: Marker) -> dict[str, object]:
    """The metadata merge patch: our finalizer kept or added, the marker set."""
    finalizers = list(ej.metadata.finalizers)
    if FINALIZER not in finalizers:
        finalizers.append(FINALIZER)
    return {"finalizers": finalizers, "annotations": {MARKER_ANNOTATION: marker.to_json()}}

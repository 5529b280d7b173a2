"""The EvalJob engine against in-memory ports: what watch events it acts on, and what it posts.

The same behaviours run end to end in tests/e2e (test_engine_edges.py, test_two_operators.py);
these pin the cases a real watch cannot be made to produce on demand, such as a stale body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from nemo_evaluator_operator.constants import FINALIZER
from nemo_evaluator_operator.engine.cluster import ClusterView, Knobs
from nemo_evaluator_operator.engine.evaljobs import EvalJobEngine
from nemo_evaluator_operator.evaluator.errors import EvaluatorTimeoutError
from nemo_evaluator_operator.evaluator.v1.models import EvaluationJob
from nemo_evaluator_operator.metrics import Metrics
from nemo_evaluator_operator.reconcile.evaljob_status import EventSpec
from nemo_evaluator_operator.resources import KubeResources
from nemo_evaluator_operator.resources.status import StatusWriter
from tests.unit.reconcile.fakes import FakeEvaluator, FakeKube, v1_port
from tests.unit.reconcile.test_evaljob import CREATED, UID, ready_benchmark

MARKER = "evaluator.nemo.dev/submission"


@dataclass
class LosingEvaluator(FakeEvaluator):
    """Creates the job, then loses the answer (`lose`), or holds the POST until `release`."""

    lose: int = 0
    hold: asyncio.Event | None = None
    posted: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_job(self, body: dict[str, Any]) -> EvaluationJob:
        self.posted.set()
        if self.hold is not None:
            await self.hold.wait()
        job = await super().create_job(body)
        if self.lose:
            self.lose -= 1
            raise EvaluatorTimeoutError("read timed out", method="POST", path="/v1/evaluation/jobs")
        return job


class Events:
    def __init__(self) -> None:
        self.posted: list[EventSpec] = []

    def post(self, body: Mapping[str, Any], events: Iterable[EventSpec]) -> None:
        self.posted.extend(events)


def body(version: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "EvalJob",
        "metadata": {
            "name": "ej",
            "namespace": "team-a",
            "uid": UID,
            "generation": 1,
            "creationTimestamp": CREATED,
            "resourceVersion": version,
            **metadata,
        },
        "spec": {
            "benchmarkRef": {"name": "qa"},
            "target": {
                "type": "model",
                "model": {"api_endpoint": {"url": "http://nim/v1/completions", "model_id": "m"}},
            },
        },
    }


def engine_for(evaluator: FakeEvaluator, kube: FakeKube) -> EvalJobEngine:
    kube.benchmarks[("team-a", "qa")] = ready_benchmark()
    resources = cast(KubeResources, kube)
    cluster = ClusterView(
        resources,
        StatusWriter(resources),
        Metrics(),
        lambda ns, name: kube.benchmarks.get((ns, name)),
    )
    knobs = Knobs(
        poll_interval=0.05,
        max_backoff=0.1,
        grace_seconds=60,
        default_namespace="default",
        quiet_seconds=3600,  # a second POST only after an hour: never within these tests
        progress_interval=0,
        delete_budget=30,
        drift_interval=60,
        instance="test",
    )
    return EvalJobEngine(v1_port(evaluator), cluster, Events(), knobs)


@pytest.fixture
async def stop() -> AsyncIterator[list[EvalJobEngine]]:
    engines: list[EvalJobEngine] = []
    yield engines
    for engine in engines:
        await engine.queue.close()


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 -- polls fakes that have no events to wait on
            await asyncio.sleep(0.01)


def posts(evaluator: FakeEvaluator) -> int:
    return evaluator.names().count("create_job")


def recorded_job(kube: FakeKube) -> str | None:
    ids = [p.get("jobId") for p in kube.status_patches if p.get("jobId")]
    return str(ids[-1]) if ids else None


async def in_held_post(
    stop: list[EvalJobEngine],
) -> tuple[asyncio.Event, LosingEvaluator, FakeKube, EvalJobEngine]:
    """An engine whose first step is inside its POST, held there until the event is set."""
    hold = asyncio.Event()
    evaluator, kube = LosingEvaluator(hold=hold), FakeKube()
    engine = engine_for(evaluator, kube)
    stop.append(engine)
    engine.on_event(None, body("0"))
    await asyncio.wait_for(evaluator.posted.wait(), 5)
    return hold, evaluator, kube, engine


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param({}, id="from-before-the-marker"),
        pytest.param({"annotations": {}}, id="newer-but-without-the-marker"),
    ],
)
async def test_stale_body_after_a_lost_post_answer_does_not_post_again(
    stale: dict[str, Any], stop: list[EvalJobEngine]
) -> None:
    evaluator, kube = LosingEvaluator(lose=1), FakeKube()
    engine = engine_for(evaluator, kube)
    stop.append(engine)
    engine.on_event(None, body("0"))
    await until(lambda: posts(evaluator) == 1 and not engine.queue.due(UID))
    # The watch now delivers a body that knows nothing of the marker or the attempt.
    version = "0" if not stale else "1000"
    engine.on_event("MODIFIED", body(version, **stale))
    for _ in range(3):  # and the poller keeps waking the EvalJob up
        await engine.poll_once()
        await until(lambda: not engine.queue.due(UID))
    await until(lambda: recorded_job(kube) is not None)
    assert posts(evaluator) == 1, evaluator.names()
    assert recorded_job(kube) == "eval-1"  # the lost answer's job, found by its tag and adopted
    assert len(kube.metadata_patches) == 1  # one marker: one attempt


async def test_deletion_during_the_post_waits_for_it_and_removes_its_job(
    stop: list[EvalJobEngine],
) -> None:
    hold, evaluator, kube, engine = await in_held_post(stop)
    marker = kube.metadata_patches[0]["annotations"][MARKER]
    deleting = body(
        "2",
        deletionTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        finalizers=[FINALIZER],
        annotations={MARKER: marker},
    )
    engine.on_event("MODIFIED", deleting)
    await asyncio.sleep(0.1)
    assert evaluator.names() == []  # the POST is held: nothing else runs meanwhile
    hold.set()
    await until(lambda: "cancel_job" in evaluator.names())
    evaluator.jobs["eval-1"]["status"] = "cancelled"
    await until(lambda: any("finalizers" in p for p in kube.metadata_patches[1:]), within=10)
    assert posts(evaluator) == 1
    assert evaluator.jobs == {}, "the job the POST created is still in NeMo"
    assert kube.metadata_patches[-1]["finalizers"] is None  # released: the object can go


@dataclass
class SlowRead(FakeEvaluator):
    """`hold_next_read`: the next job read sees the job as it is now, but answers on `release`."""

    hold_next_read: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def get_job(self, job_id: str) -> EvaluationJob:
        if not self.hold_next_read:
            return await super().get_job(job_id)
        self.hold_next_read = False
        seen = await super().get_job(job_id)
        self.holding.set()
        await self.release.wait()
        return seen


async def test_a_poll_read_before_a_cancel_does_not_cancel_again(
    stop: list[EvalJobEngine],
) -> None:
    """The batch began before the cancel and answers after it, still saying `running`."""
    evaluator, kube = SlowRead(), FakeKube()
    engine = engine_for(evaluator, kube)
    stop.append(engine)
    engine.on_event(None, body("0"))
    await until(lambda: posts(evaluator) == 1 and not engine.queue.due(UID))
    evaluator.jobs["eval-1"]["status"] = "running"
    await engine.poll_once()
    await until(lambda: any(p.get("phase") == "Running" for p in kube.status_patches))
    evaluator.hold_next_read = True
    poll = asyncio.create_task(engine.poll_once())
    await asyncio.wait_for(evaluator.holding.wait(), 5)
    cancelled = {**body("50", generation=2), "status": dict(engine.entries[UID].known_status)}
    cancelled["spec"]["cancel"] = True  # what the watch sends: the spec change, our status
    engine.on_event("MODIFIED", cancelled)
    await until(lambda: "cancel_job" in evaluator.names())
    evaluator.release.set()
    await poll  # a stale answer acted on would kick a step now: wait until none is due or runs
    await until(lambda: not engine.queue.busy(UID))
    assert evaluator.names().count("cancel_job") == 1, evaluator.names()


@dataclass
class SlowCancel(FakeEvaluator):
    """A cancel that takes until `release` to be answered (and to take effect)."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelling: asyncio.Event = field(default_factory=asyncio.Event)

    async def cancel_job(self, job_id: str) -> None:
        self.cancelling.set()
        await self.release.wait()
        await super().cancel_job(job_id)


async def test_a_poll_answered_while_the_cancel_is_in_flight_does_not_cancel_again(
    stop: list[EvalJobEngine],
) -> None:
    """NeMo Helix takes seconds to answer a cancel; a batch read meanwhile says `active`."""
    evaluator, kube = SlowCancel(), FakeKube()
    engine = engine_for(evaluator, kube)
    stop.append(engine)
    engine.on_event(None, body("0"))
    await until(lambda: posts(evaluator) == 1 and not engine.queue.due(UID))
    evaluator.jobs["eval-1"]["status"] = "running"
    cancelled = {**body("50", generation=2), "status": dict(engine.entries[UID].known_status)}
    cancelled["spec"]["cancel"] = True  # what the watch sends: the spec change, our status
    engine.on_event("MODIFIED", cancelled)
    await asyncio.wait_for(evaluator.cancelling.wait(), 5)
    await engine.poll_once()  # answers `running` while the cancel is still on its way
    evaluator.release.set()
    await until(lambda: not engine.queue.busy(UID))
    assert evaluator.names().count("cancel_job") == 1, evaluator.names()


async def test_a_poll_during_the_first_step_adds_no_step_and_no_read(
    stop: list[EvalJobEngine],
) -> None:
    """At N=500 the first steps queue for a while; a poll meanwhile must not queue a second
    step (which would read the fresh job by itself, outside the batch)."""
    hold, evaluator, kube, engine = await in_held_post(stop)
    await engine.poll_once()  # the step is in its POST: not kicked again
    hold.set()
    await until(lambda: recorded_job(kube) is not None)
    await until(lambda: not engine.queue.busy(UID))
    assert evaluator.names() == ["create_job"], evaluator.names()


async def test_runs_follow_events_and_deletions_and_mark_the_leaderboard(
    stop: list[EvalJobEngine],
) -> None:
    """The index answers baseline gates and leaderboards; a Succeeded run (or its deletion)
    marks its Benchmark, and the cached run is rebuilt when the status changes."""
    engine = engine_for(FakeEvaluator(), FakeKube())
    stop.append(engine)
    marked: list[tuple[str, str]] = []
    engine.on_run_changed = lambda ns, bm: marked.append((ns, bm))
    done = {"phase": "Succeeded", "configHash": "h", "scores": {"qa.bleu.sentence": 1.0}}
    obj = {**body("5", labels={"track": "prod"}), "status": {**done, "observedGeneration": 1}}
    engine.on_event("ADDED", obj)
    (run,) = engine.runs("team-a")
    assert (run.phase, run.benchmark, run.labels, run.scores) == (
        "Succeeded", "qa", {"track": "prod"}, {"qa.bleu.sentence": 1.0},
    )  # fmt: skip
    assert engine.runs("elsewhere") == []
    assert marked == [("team-a", "qa")]
    later = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "6"},
             "status": {**obj["status"], "scores": {"qa.bleu.sentence": 0.5}}}  # fmt: skip
    engine.on_event("MODIFIED", later)
    assert engine.runs("team-a")[0].scores == {"qa.bleu.sentence": 0.5}
    engine.on_event("DELETED", later)
    assert engine.runs("team-a") == []
    assert marked[-1] == ("team-a", "qa")

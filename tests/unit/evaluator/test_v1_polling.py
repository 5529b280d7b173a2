"""Batched polling: requests per interval grow with pages, not with jobs."""

from __future__ import annotations

import pytest

from nemo_evaluator_operator.evaluator.errors import EvaluatorConnectionError
from nemo_evaluator_operator.evaluator.v1.polling import SnapshotReader
from tests.unit.reconcile.fakes import FakeEvaluator


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def seed(evaluator: FakeEvaluator, count: int, status: str = "running") -> list[str]:
    for n in range(count):
        evaluator.jobs[f"eval-{status}-{n}"] = {
            "id": f"eval-{status}-{n}",
            "status": status,
            "custom_fields": {"managed_by": "nemo-evaluator-operator"},
        }
    return [f"eval-{status}-{n}" for n in range(count)]


async def warm(reader: SnapshotReader, clock: Clock, ids: list[str]) -> None:
    """One interval in which every job was read, so the reader knows how many there are."""
    for job_id in ids:
        await reader.get_job(job_id)
    clock.now += 11


@pytest.mark.parametrize(("jobs", "lists"), [(4, 4), (100, 4), (101, 5), (250, 6)])
async def test_one_interval_costs_pages_not_jobs(jobs: int, lists: int) -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    ids = seed(evaluator, jobs)
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)
    await warm(reader, clock, ids)
    evaluator.calls.clear()
    for job_id in ids:
        assert (await reader.get_job(job_id)).id == job_id
    assert evaluator.names().count("list_jobs") == lists  # 4 statuses, running paged by 100
    assert "get_job" not in evaluator.names()


@pytest.mark.parametrize("jobs", [1, 2, 3])
async def test_a_few_jobs_are_read_directly(jobs: int) -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    ids = seed(evaluator, jobs)
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)
    for _ in range(3):
        await warm(reader, clock, ids)
    assert "list_jobs" not in evaluator.names()
    assert evaluator.names().count("get_job") == 3 * jobs


async def test_finished_job_falls_back_to_a_direct_read() -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    (done,) = seed(evaluator, 1, status="completed")
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)
    assert (await reader.get_job(done)).status == "completed"
    assert evaluator.names().count("get_job") == 1
    assert reader.fallback_reads == 1


async def test_jobs_of_other_managers_are_not_listed() -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    evaluator.jobs["eval-x"] = {"id": "eval-x", "status": "running", "custom_fields": {}}
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)
    await reader.get_job("eval-x")
    assert reader.fallback_reads == 1


async def test_cancel_forgets_the_cached_state() -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    (job,) = seed(evaluator, 1)
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)
    await warm(reader, clock, [*seed(evaluator, 5, status="pending"), job])
    await reader.get_job(job)
    reader.forget(job)
    await evaluator.cancel_job(job)
    assert (await reader.get_job(job)).status == "cancelling"


async def test_outage_costs_one_round_per_interval() -> None:
    evaluator, clock = FakeEvaluator(), Clock()
    ids = seed(evaluator, 50)
    reader = SnapshotReader(evaluator, ttl=10, clock=clock)

    async def down(*_: object, **__: object) -> None:
        raise EvaluatorConnectionError("refused", method="GET", path="/v1/evaluation/jobs")
        yield  # pragma: no cover

    await warm(reader, clock, ids)
    evaluator.calls.clear()
    evaluator.iter_jobs = down  # type: ignore[assignment,method-assign]
    refreshes = reader.list_refreshes
    for job_id in ids:
        with pytest.raises(EvaluatorConnectionError):
            await reader.get_job(job_id)
    assert reader.list_refreshes == refreshes + 1
    assert "get_job" not in evaluator.names()

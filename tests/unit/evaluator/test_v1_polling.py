"""Batched v1 reads: requests grow with pages, not with jobs; nothing depends on the lists."""

from __future__ import annotations

import pytest

from nemo_evaluator_operator.evaluator.errors import EvaluatorConnectionError
from nemo_evaluator_operator.evaluator.port import JobRef, JobState
from nemo_evaluator_operator.evaluator.v1.polling import ActiveJobReader
from tests.unit.reconcile.fakes import FakeEvaluator, v1_port


def seed(evaluator: FakeEvaluator, count: int, status: str = "running") -> list[str]:
    for n in range(count):
        evaluator.jobs[f"eval-{status}-{n}"] = {
            "id": f"eval-{status}-{n}",
            "status": status,
            "custom_fields": {"managed_by": "nemo-evaluator-operator"},
        }
    return [f"eval-{status}-{n}" for n in range(count)]


def reader_for(evaluator: FakeEvaluator) -> ActiveJobReader:
    return ActiveJobReader(evaluator)  # type: ignore[arg-type]


@pytest.mark.parametrize(("jobs", "lists"), [(2, 1), (100, 1), (101, 2), (250, 3), (1000, 10)])
async def test_one_batch_costs_pages_not_jobs(jobs: int, lists: int) -> None:
    evaluator = FakeEvaluator()
    ids = seed(evaluator, jobs)
    found, missing, failed = await reader_for(evaluator).read(ids)
    assert set(found) == set(ids)
    assert (missing, failed) == (set(), {})
    assert evaluator.names().count("list_jobs") == lists
    assert "get_job" not in evaluator.names()


async def test_one_job_is_read_directly() -> None:
    evaluator = FakeEvaluator()
    ids = seed(evaluator, 1)
    found, _, _ = await reader_for(evaluator).read(ids)
    assert set(found) == set(ids)
    assert evaluator.names() == ["get_job"]


async def test_a_server_that_ignores_search_gets_one_list_per_status() -> None:
    """Finished jobs in the combined list give it away; correct now, cheaper from then on."""
    evaluator = FakeEvaluator(ignore_search=True)
    ids = [*seed(evaluator, 150), *seed(evaluator, 30, "pending")]
    seed(evaluator, 500, "completed")  # ours, but finished long ago
    reader = reader_for(evaluator)
    found, missing, failed = await reader.read(ids)
    assert set(found) == set(ids)
    assert (missing, failed) == (set(), {})
    assert reader.combined is False
    assert "get_job" not in evaluator.names()
    evaluator.calls.clear()
    again, _, _ = await reader.read(ids)
    assert set(again) == set(ids)
    searched = [c for n, c in evaluator.calls if n == "list_jobs" and "search.status" in c]
    assert searched == []  # never asks with search again
    assert evaluator.names().count("list_jobs") == 2 + 1 + 1 + 1  # running 2 pages, 3 others


async def test_finished_and_missing_jobs_are_read_directly() -> None:
    evaluator = FakeEvaluator()
    running = seed(evaluator, 5)
    done = seed(evaluator, 1, "completed")
    wanted = [*running, *done, "eval-gone"]
    found, missing, _ = await reader_for(evaluator).read(wanted)
    assert found[done[0]].status == "completed"
    assert missing == {"eval-gone"}
    assert sorted(c for n, c in evaluator.calls if n == "get_job") == [
        "eval-completed-0",
        "eval-gone",
    ]


async def test_the_port_maps_states_and_refs() -> None:
    evaluator = FakeEvaluator()
    ids = seed(evaluator, 5)
    port = v1_port(evaluator)
    batch = await port.observe_many([JobRef("default", i) for i in [*ids, "eval-gone"]])
    assert {ref.job_id for ref in batch.jobs} == set(ids)
    assert {job.state for job in batch.jobs.values()} == {JobState.RUNNING}
    assert batch.missing == {JobRef("default", "eval-gone")}


async def test_nothing_read_raises_once() -> None:
    evaluator = FakeEvaluator()
    ids = seed(evaluator, 6)
    down = EvaluatorConnectionError("refused", method="GET", path="/v1/evaluation/jobs")
    calls = 0

    async def refuse(*_: object, **__: object) -> None:
        nonlocal calls
        calls += 1
        raise down

    evaluator.list_jobs = refuse  # type: ignore[attr-defined]
    evaluator.get_job = refuse  # type: ignore[method-assign]

    async def no_pages(**_: object):  # type: ignore[no-untyped-def]
        raise down
        yield  # pragma: no cover

    evaluator.iter_jobs = no_pages  # type: ignore[method-assign,assignment]
    with pytest.raises(EvaluatorConnectionError):
        await reader_for(evaluator).read(ids)

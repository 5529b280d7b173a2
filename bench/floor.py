"""The floor: a plain script with NVIDIA's ``nemo_microservices`` SDK doing the same work.

It creates the same config, submits the same N jobs from a thread pool, then once per poll
interval lists its own jobs (filtered by a tag, paged, stopping at ``total_pages`` so no empty
page is fetched) and fetches the results of each job that completed. No Kubernetes at all: the
operator cannot be faster than this against the same emulator.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from nemo_microservices import NeMoMicroservices
from nemo_microservices.types.evaluation import EvaluationJob

from .workload import CONFIG, TARGET

__all__ = ["FloorResult", "run_floor"]

CONFIG_NAME = "bench-floor"
CONFIG_NAMESPACE = "default"
TAG = "bench_run"
_FAILED = {"failed", "cancelled"}


@dataclass(frozen=True)
class FloorResult:
    """Seconds from the first create until all were created and until all results were read."""

    submitted_s: float
    results_s: float
    polls: int


def _tagged_jobs(client: NeMoMicroservices, tag: str, page_size: int) -> Iterator[EvaluationJob]:
    page_number, last = 1, 1
    while page_number <= last:
        page = client.evaluation.jobs.list(
            filter={"custom_fields": {TAG: tag}}, page=page_number, page_size=page_size
        )
        yield from page.data
        total = page.pagination.total_pages if page.pagination else None
        last = total if total is not None else (page_number + 1 if page.data else 0)
        page_number += 1


def run_floor(
    base_url: str, n: int, interval: float, workers: int, page_size: int, timeout: float
) -> FloorResult:
    """Submit N jobs, poll until each completed, read every result; raise on failure/timeout."""
    client = NeMoMicroservices(base_url=base_url, max_retries=0)
    tag = uuid.uuid4().hex
    client.evaluation.configs.create(name=CONFIG_NAME, namespace=CONFIG_NAMESPACE, **CONFIG)
    config_ref = f"{CONFIG_NAMESPACE}/{CONFIG_NAME}"
    target: Any = TARGET  # a plain dict is what the SDK sends; its TypedDict is only a hint

    def submit(_: int) -> str:
        job = client.evaluation.jobs.create(
            config=config_ref, target=target, namespace=CONFIG_NAMESPACE, custom_fields={TAG: tag}
        )
        if not job.id:
            raise RuntimeError("NeMo returned a job without an id")
        return job.id

    def fetch(job_id: str) -> None:
        client.evaluation.jobs.results(job_id)

    began = time.monotonic()
    deadline = began + timeout
    polls = 0
    with client, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="floor") as pool:
        pending = set(pool.map(submit, range(n)))
        submitted_s = time.monotonic() - began
        while pending:
            tick = time.monotonic()
            polls += 1
            done, failed = _poll(client, tag, page_size, pending)
            if failed:
                raise RuntimeError(f"floor: {len(failed)} jobs failed, e.g. {failed[0]}")
            list(pool.map(fetch, done))
            pending.difference_update(done)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"floor: {len(pending)} of {n} jobs unfinished after "
                                   f"{timeout:.0f}s")  # fmt: skip
            if pending:
                time.sleep(max(0.0, tick + interval - time.monotonic()))
    return FloorResult(submitted_s, time.monotonic() - began, polls)


def _poll(
    client: NeMoMicroservices, tag: str, page_size: int, pending: set[str]
) -> tuple[list[str], list[str]]:
    """The pending jobs that completed, and those that failed (``id: status``)."""
    done: list[str] = []
    failed: list[str] = []
    for job in _tagged_jobs(client, tag, page_size):
        if job.id not in pending:
            continue
        if job.status == "completed":
            done.append(job.id)
        elif job.status in _FAILED:
            failed.append(f"{job.id}: {job.status}")
    return done, failed

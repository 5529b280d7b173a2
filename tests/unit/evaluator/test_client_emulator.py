"""Contract test: the client against the real NeMo Evaluator emulator over HTTP.

Runs only when `nemo_evaluator_emulator.testing.run_emulator` exists (a context manager
yielding the running emulator); otherwise the module is skipped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from nemo_evaluator_operator.evaluator.errors import (
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)
from nemo_evaluator_operator.evaluator.port import JobState
from nemo_evaluator_operator.evaluator.states import job_state
from nemo_evaluator_operator.evaluator.v1.client import V1Client
from nemo_evaluator_operator.evaluator.v1.models import EvaluationJob

testing = pytest.importorskip("nemo_evaluator_emulator.testing")
if not hasattr(testing, "run_emulator"):
    pytest.skip("emulator has no testing.run_emulator yet", allow_module_level=True)

pytestmark = pytest.mark.emulator

NAMESPACE = "contract"
TERMINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
TARGET: dict[str, Any] = {
    "type": "model",
    "model": {
        "api_endpoint": {
            "url": "http://127.0.0.1:9/v1/completions",
            "model_id": "meta/llama-3.1-8b-instruct",
            "api_key": "sk-contract-test",
        }
    },
}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with testing.run_emulator(phase_seconds="created=0,pending=0.2,running=1") as emulator:
        # RunningEmulator exposes `base_url`; `url` was the name first agreed on.
        yield str(getattr(emulator, "base_url", None) or emulator.url)


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[V1Client]:
    async with V1Client.from_settings(emulator_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def config_ref(client: V1Client) -> str:
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    await client.create_config({"type": "mmlu", "name": name, "namespace": NAMESPACE})
    return f"{NAMESPACE}/{name}"


def job_body(config_ref: str, uid: str) -> dict[str, Any]:
    return {
        "namespace": NAMESPACE,
        "config": config_ref,
        "target": TARGET,
        "custom_fields": {"evaljob_uid": uid},
    }


async def wait_terminal(client: V1Client, job_id: str) -> EvaluationJob:
    """Poll like the operator does; the emulator's default phases last a few seconds."""
    async with asyncio.timeout(60):
        while job_state("v1", (job := await client.get_job(job_id)).status) not in TERMINAL:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return job


async def test_health(client: V1Client) -> None:
    await client.health()


async def test_config_round_trip(client: V1Client) -> None:
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    body = {"type": "gsm8k", "name": name, "namespace": NAMESPACE, "params": {"limit_samples": 5}}
    created = await client.create_config(body)
    assert (created.name, created.namespace, created.type) == (name, NAMESPACE, "gsm8k")
    with pytest.raises(ConflictError):
        await client.create_config(body)
    fetched = await client.get_config(NAMESPACE, name)
    assert fetched.params is not None  # the service lists every param, unset ones as null
    assert fetched.params["limit_samples"] == 5
    updated = await client.update_config(NAMESPACE, name, {"params": {"limit_samples": 7}})
    assert updated.params is not None
    assert updated.params["limit_samples"] == 7
    await client.delete_config(NAMESPACE, name)
    with pytest.raises(NotFoundError):
        await client.get_config(NAMESPACE, name)
    with pytest.raises(NotFoundError):
        await client.delete_config(NAMESPACE, name)


async def test_job_lifecycle(client: V1Client, config_ref: str) -> None:
    uid = uuid.uuid4().hex
    job = await client.create_job(job_body(config_ref, uid))
    assert job_state("v1", job.status) in {JobState.QUEUED, JobState.RUNNING}
    assert job.custom_fields == {"evaljob_uid": uid}
    assert [j.id for j in await client.find_jobs("evaljob_uid", uid)] == [job.id]
    assert await client.find_jobs("evaljob_uid", uuid.uuid4().hex) == []
    done = await wait_terminal(client, job.id)
    assert job_state("v1", done.status) is JobState.SUCCEEDED, done.status_details.message
    results = await client.get_results(job.id)
    assert results["job"] == job.id
    assert results["tasks"]
    with pytest.raises(ConflictError):  # the emulator's default for cancelling a finished job
        await client.cancel_job(job.id)
    await client.delete_job(job.id)
    with pytest.raises(NotFoundError):
        await client.get_job(job.id)


async def test_cancel(client: V1Client, config_ref: str) -> None:
    job = await client.create_job(job_body(config_ref, uuid.uuid4().hex))
    await client.cancel_job(job.id)
    done = await wait_terminal(client, job.id)
    assert job_state("v1", done.status) is JobState.CANCELLED


async def test_iter_jobs_pages(client: V1Client, config_ref: str) -> None:
    uid = uuid.uuid4().hex
    created = {(await client.create_job(job_body(config_ref, uid))).id for _ in range(3)}
    filters = {"custom_fields.evaljob_uid": uid}
    seen = [job.id async for job in client.iter_jobs(filters=filters, page_size=2)]
    assert sorted(seen) == sorted(created)


async def test_errors(client: V1Client) -> None:
    with pytest.raises(NotFoundError):
        await client.get_job("eval-doesnotexist")
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.create_job({"namespace": NAMESPACE})
    assert "config" in caught.value.detail

"""The real NeMo Helix 0.8.1 as the tests run it: start, health, workspaces, one real
evaluation against the table model server, stop, and restart on the same data.

Two Helix jobs in all (each takes 15-25 s): model ``fair`` on the 5-row demo dataset, and a
job kept busy by a slow model while Helix is stopped and restarted under it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from openai_table_server.testing import RunningModelServer
from tests.support.controlplane import pid_alive
from tests.support.helix import HelixServer, demo_dataset

pytestmark = pytest.mark.helix

T = TypeVar("T")
WORKSPACE = "helix-tests"
JOBS = f"/apis/evals/v2/workspaces/{WORKSPACE}/evaluate/jobs"
TERMINAL = {"completed", "error", "cancelled"}
JOB_TIMEOUT = 180.0
# The server compares each output's schema with the metric type's own, field by field.
EXACT_MATCH = {
    "bundle_kind": "metric-bundle",
    "bundle_format_version": "v1",
    "metric_type": "exact-match",
    "outputs": [
        {
            "name": "exact-match",
            "value_json_schema": {
                "description": "Continuous numeric metric value.",
                "title": "ContinuousScore",
                "type": "number",
            },
        }
    ],
    "payload": {
        "kind": "inline",
        "metric": {
            "type": "exact-match",
            "reference": "{{item.expected | trim}}",
            "candidate": "{{sample.output_text | trim}}",
        },
    },
}
# With a model target, params must hold an online-only key, else Helix answers 500.
ONLINE_PARAMS = {
    "max_retries": 1,
    "request_timeout": 30,
    "inference": {"temperature": 0, "max_tokens": 16},
}


def wait_for(predicate: Callable[[], T | None], what: str, timeout: float = JOB_TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def job_request(name: str, model_server: RunningModelServer, model: str) -> dict[str, Any]:
    target = {"url": model_server.chat_url, "name": model, "format": "openai"}
    spec = {
        "metrics": [EXACT_MATCH],
        "dataset": demo_dataset(),
        "target": target,
        "prompt_template": {"messages": [{"role": "user", "content": "{{item.question}}"}]},
        "params": ONLINE_PARAMS,
    }
    return {"name": name, "custom_fields": {"suite": "helix-tests"}, "spec": spec}


def job_status(http: httpx.Client, name: str) -> str:
    response = http.get(f"{JOBS}/{name}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def wait_status(http: httpx.Client, name: str, wanted: set[str]) -> str:
    def reached() -> str | None:
        status = job_status(http, name)
        return status if status in wanted | TERMINAL else None

    return wait_for(reached, f"job {name} to reach one of {sorted(wanted | TERMINAL)}")


@pytest.fixture(scope="module")
def http(helix: HelixServer) -> Iterator[httpx.Client]:
    helix.ensure_workspace(WORKSPACE)
    with helix.client() as client:
        yield client


@dataclass
class FinishedJob:
    name: str
    id: str
    status: str
    scores: dict[str, dict[str, Any]]
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def fair_job(
    helix: HelixServer, http: httpx.Client, model_server: RunningModelServer
) -> FinishedJob:
    """Model ``fair`` (3 of 5 right) evaluated with exact-match, waited for to the end."""
    name = f"fair-{secrets.token_hex(3)}"
    posted_at = time.time()  # the model server is shared: count only this job's requests
    created = http.post(JOBS, json=job_request(name, model_server, "fair"))
    assert created.status_code == 201, created.text
    status = wait_status(http, name, set())
    scores: dict[str, dict[str, Any]] = {}
    if status == "completed":
        download = http.get(f"{JOBS}/{name}/results/aggregate-scores/download")
        assert download.status_code == 200, download.text
        scores = {s["name"]: s for s in download.json()["scores"]}
    requests = [e for e in model_server.requests(model="fair") if e["time"] >= posted_at]
    return FinishedJob(name, created.json()["id"], status, scores, requests)


def test_helix_answers_both_health_checks(helix: HelixServer) -> None:
    assert helix.version == "0.8.1"
    assert 0 < helix.startup_seconds < 240
    with helix.client() as client:
        for path in ("/health/ready", "/apis/evals/v1/healthz"):
            assert client.get(path).status_code == 200, path


def test_workspace_is_created_once_then_conflicts(helix: HelixServer) -> None:
    name = f"ws-{secrets.token_hex(4)}"
    with helix.client() as client:
        first = client.post("/apis/entities/v2/workspaces", json={"name": name})
        second = client.post("/apis/entities/v2/workspaces", json={"name": name})
    assert first.status_code == 201, first.text
    assert second.status_code == 409, second.text
    assert helix.ensure_workspace(name) == 409


def test_exact_match_job_scores_the_fair_model_three_of_five(fair_job: FinishedJob) -> None:
    assert fair_job.status == "completed"
    score = fair_job.scores["exact-match.exact-match"]
    assert (score["count"], score["nan_count"], score["mean"]) == (5, 0, pytest.approx(0.6))


def test_job_asked_the_model_every_question_once(fair_job: FinishedJob) -> None:
    questions = sorted(row["question"] for row in demo_dataset())
    assert sorted(e["prompt"] for e in fair_job.requests) == questions
    assert {e["status"] for e in fair_job.requests} == {200}
    # Without api_key_secret, Helix sends a placeholder key.
    assert {e["authorization"] for e in fair_job.requests} == {"Bearer XXX"}


@dataclass
class Interrupted:
    """What happened when Helix was stopped under a running job and started again."""

    name: str
    pids_before: list[int]
    stragglers: list[str]
    left_after_stop: list[int]
    restart_seconds: float


@pytest.fixture(scope="module")
def interrupted(
    helix: HelixServer,
    http: httpx.Client,
    model_server: RunningModelServer,
    fair_job: FinishedJob,
) -> Interrupted:
    """Start a job the model keeps busy, stop Helix under it, then restart on the same data."""
    model_server.add_rule(model="good", delay=120)
    name = f"slow-{secrets.token_hex(3)}"
    try:
        created = http.post(JOBS, json=job_request(name, model_server, "good"))
        assert created.status_code == 201, created.text
        assert wait_status(http, name, {"active"}) == "active"
        server_pid = helix.process.pid if helix.process else -1
        pids = wait_for(
            lambda: [p for p in helix.processes() if p != server_pid] and helix.processes(),
            "the job process to start",
        )
        left_before = len(helix.stragglers)
        helix.stop()
        stragglers = helix.stragglers[left_before:]
        left = [pid for pid in pids if pid_alive(pid)]
        seconds = helix.restart(keep_data=True)
    finally:
        model_server.clear_rules()
    return Interrupted(name, pids, stragglers, left, seconds)


def test_stop_leaves_no_helix_process(helix: HelixServer, interrupted: Interrupted) -> None:
    """The server and its job process both end (Helix 0.8.1 leaves the job running on
    SIGTERM; ``stop()`` ends it, see ``stragglers``)."""
    assert len(interrupted.pids_before) >= 2  # the server and the job process
    assert interrupted.left_after_stop == [], interrupted.stragglers
    assert all("nemo_evals" in s for s in interrupted.stragglers), interrupted.stragglers


def test_restart_keeps_finished_jobs_and_their_results(
    helix: HelixServer, http: httpx.Client, fair_job: FinishedJob, interrupted: Interrupted
) -> None:
    assert 0 < interrupted.restart_seconds < 240
    job = http.get(f"{JOBS}/{fair_job.name}").json()
    assert (job["id"], job["status"]) == (fair_job.id, "completed")
    download = http.get(f"{JOBS}/{fair_job.name}/results/aggregate-scores/download")
    assert download.status_code == 200, download.text
    means = {s["name"]: s["mean"] for s in download.json()["scores"]}
    assert means == {"exact-match.exact-match": pytest.approx(0.6)}


def test_job_cut_off_by_a_restart_stays_active_until_cancelled(
    http: httpx.Client, interrupted: Interrupted
) -> None:
    """Helix keeps job processes in memory only: after a restart it reports the last stored
    state of a job whose process is gone (no TTL applies), until the job is cancelled."""
    status = http.get(f"{JOBS}/{interrupted.name}/status").json()
    assert status["status"] == "active"
    pid = status["status_details"].get("pid")
    assert pid in interrupted.pids_before
    assert not pid_alive(pid)
    cancel = http.post(f"{JOBS}/{interrupted.name}/cancel")
    assert cancel.status_code == 200, cancel.text
    assert wait_status(http, interrupted.name, {"cancelled"}) == "cancelled"

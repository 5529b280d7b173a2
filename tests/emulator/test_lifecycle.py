"""The job lifecycle on the emulator clock: states, task_status, progress, cancel, failures."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import httpx
import pytest
from nemo_microservices import NeMoMicroservices, NotFoundError

from nemo_evaluator_emulator.control import EmulatorControl

from .payloads import custom_config, model_target

pytestmark = pytest.mark.emulator

# The session emulator runs with created=0.1, pending=0.1, running=0.4, cancelling=0.1.
SLOW = {"created": 1, "pending": 2, "running": 4, "cancelling": 1}


def _job(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"config": "team-a/qa-bleu", "target": "team-a/llama-8b", **extra}
    response = http.post("/v1/evaluation/jobs", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _get(http: httpx.Client, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = http.get(f"/v1/evaluation/jobs/{job_id}").json()
    return job


@pytest.fixture
def frozen(sdk: NeMoMicroservices, control: EmulatorControl) -> EmulatorControl:
    """A config and target, slow phases, and a stopped clock."""
    sdk.evaluation.configs.create(**custom_config(limit=40))
    sdk.evaluation.targets.create(**model_target())
    control.set_phase_seconds(**SLOW)
    control.freeze()
    return control


def test_walks_through_states_on_the_clock(http: httpx.Client, frozen: EmulatorControl) -> None:
    job = _job(http)
    seen = []
    for step in (0.5, 1.0, 1.0, 1.5, 1.0, 1.0, 1.0):  # t = .5 1.5 2.5 4 5 6 7
        frozen.advance(step)
        current = _get(http, job["id"])
        seen.append((current["status"], current["status_details"]))
    statuses = [s for s, _ in seen]
    assert statuses == [
        "created",
        "pending",
        "pending",
        "running",
        "running",
        "running",
        "completed",
    ]
    assert seen[1][1]["task_status"] == {"qa": "pending", "judge": "pending"}
    at_4s, at_5s, at_6s = seen[3][1], seen[4][1], seen[5][1]
    assert at_4s["task_status"] == {"qa": "running", "judge": "pending"}
    assert at_6s["task_status"] == {"qa": "completed", "judge": "running"}
    assert at_4s["samples_processed"] < at_5s["samples_processed"] < at_6s["samples_processed"]
    assert (at_5s["samples_processed"], at_5s["progress"]) == (20, 50.0)
    done = seen[6][1]
    assert done == {
        "message": "Job completed successfully",
        "progress": 100.0,
        "samples_processed": 40,
        "task_status": {"qa": "completed", "judge": "completed"},
    }


def test_updated_at_moves_with_each_transition(http: httpx.Client, frozen: EmulatorControl) -> None:
    job = _get(http, _job(http)["id"])
    assert job["updated_at"] == job["created_at"]
    frozen.advance(1.5)
    pending = _get(http, job["id"])
    frozen.advance(0.2)
    assert _get(http, job["id"])["updated_at"] == pending["updated_at"]  # same state, same time
    frozen.advance(2)
    assert _get(http, job["id"])["updated_at"] > pending["updated_at"]


def test_progress_only_with_limit_samples(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    sdk.evaluation.configs.create(**custom_config(name="unlimited", limit=None))
    sdk.evaluation.targets.create(**model_target())
    control.freeze()
    job = _job(http, config="team-a/unlimited")
    control.advance(0.4)
    running = _get(http, job["id"])["status_details"]
    assert running["progress"] is None
    assert running["samples_processed"] > 0
    control.advance(5)
    assert _get(http, job["id"])["status_details"]["progress"] is None


def test_cancel_while_running_ends_cancelled(
    sdk: NeMoMicroservices, http: httpx.Client, frozen: EmulatorControl
) -> None:
    job = _job(http)
    frozen.advance(5)
    before = _get(http, job["id"])["status_details"]["samples_processed"]
    cancel = http.post(f"/v1/evaluation/jobs/{job['id']}/cancel")
    assert cancel.json()["status"] == "cancelling"
    again = http.post(f"/v1/evaluation/jobs/{job['id']}/cancel")
    assert again.status_code == 200  # repeat while cancelling is a no-op
    frozen.advance(0.5)
    assert _get(http, job["id"])["status"] == "cancelling"
    frozen.advance(1)
    after = _get(http, job["id"])
    assert after["status"] == "cancelled"
    assert after["status_details"]["samples_processed"] == before
    frozen.advance(100)
    assert _get(http, job["id"])["status"] == "cancelled"
    with pytest.raises(NotFoundError):
        sdk.evaluation.jobs.results(job["id"])


def test_cancel_before_running(http: httpx.Client, frozen: EmulatorControl) -> None:
    job = _job(http)
    http.post(f"/v1/evaluation/jobs/{job['id']}/cancel", json={})
    frozen.advance(10)
    cancelled = _get(http, job["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["status_details"]["samples_processed"] == 0


def test_fail_next_jobs_with_message(http: httpx.Client, frozen: EmulatorControl) -> None:
    frozen.fail_next(2, "Error connecting to inference server")
    failing = [_job(http), _job(http)]
    healthy = _job(http)
    frozen.advance(4.5)
    assert _get(http, failing[0]["id"])["status"] == "running"
    frozen.advance(1)  # halfway through running
    for job in failing:
        current = _get(http, job["id"])
        assert current["status"] == "failed"
        details = current["status_details"]
        assert details["message"] == "Error connecting to inference server"
        assert details["task_status"] == {"qa": "completed", "judge": "failed"}
        assert details["samples_processed"] == 20
    frozen.advance(10)
    assert _get(http, healthy["id"])["status"] == "completed"
    assert _get(http, failing[0]["id"])["status"] == "failed"


def test_fail_in_pending_never_runs(http: httpx.Client, frozen: EmulatorControl) -> None:
    frozen.fail_next(1, "Insufficient GPUs", phase="pending")
    job = _job(http)
    frozen.advance(3)
    failed = _get(http, job["id"])
    assert failed["status"] == "failed"
    assert failed["status_details"]["message"] == "Insufficient GPUs"
    assert failed["status_details"]["samples_processed"] == 0


def test_per_job_custom_fields(http: httpx.Client, frozen: EmulatorControl) -> None:
    quick = _job(http, custom_fields={"emulator.phase_seconds": "created=0,pending=0,running=1"})
    doomed = _job(http, custom_fields={"emulator.fail_message": "judge unreachable"})
    frozen.advance(1.5)
    assert _get(http, quick["id"])["status"] == "completed"
    assert _get(http, doomed["id"])["status"] == "pending"
    frozen.advance(10)
    assert _get(http, doomed["id"])["status_details"]["message"] == "judge unreachable"


def test_control_api_per_job_phases_and_force(http: httpx.Client, frozen: EmulatorControl) -> None:
    held = _job(http)
    frozen.set_job_phases(held["id"], running=1000)
    frozen.advance(100)
    assert _get(http, held["id"])["status"] == "running"
    frozen.force_job(held["id"], "completed")
    assert _get(http, held["id"])["status"] == "completed"
    assert http.get(f"/v1/evaluation/jobs/{held['id']}/results").status_code == 200

    broken = _job(http)
    frozen.force_job(broken["id"], "failed", "OOM")
    current = _get(http, broken["id"])
    assert (current["status"], current["status_details"]["message"]) == ("failed", "OOM")
    with pytest.raises(httpx.HTTPStatusError):
        frozen.force_job(broken["id"], "completed")  # already terminal: 409
    debug = frozen.job(broken["id"])
    assert debug["timeline"]["forced_status"] == "failed"


def test_logs_list_every_transition(http: httpx.Client, frozen: EmulatorControl) -> None:
    job = _job(http)
    frozen.advance(20)
    archive = zipfile.ZipFile(io.BytesIO(http.get(f"/v1/evaluation/jobs/{job['id']}/logs").content))
    text = archive.read(f"logs/{job['id']}.log").decode()
    statuses = [line.split("status=")[1].split()[0] for line in text.splitlines()]
    assert statuses == ["created", "pending", "running", "completed"]


def test_real_clock_completes_quickly(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    """Unfrozen, with the session's fast phases, a job finishes in well under a second or two."""
    sdk.evaluation.configs.create(**custom_config())
    sdk.evaluation.targets.create(**model_target())
    job = _job(http)
    seen = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = _get(http, job["id"])["status"]
        seen.add(status)
        if status == "completed":
            break
        time.sleep(0.02)
    assert "completed" in seen
    assert "running" in seen

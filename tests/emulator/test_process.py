"""The emulator as a process: start-up time, CLI flags, --state-dir across restarts, clean stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from nemo_microservices import ConflictError, NeMoMicroservices

from nemo_evaluator_emulator.testing import EmulatorStartError, free_port, run_emulator

from .payloads import custom_config, model_target

pytestmark = pytest.mark.emulator

STARTUP_LIMIT = 2.0


def _console_script() -> str:
    found = shutil.which("nemo-evaluator-emulator", path=str(Path(sys.executable).parent))
    assert found is not None, "the console script is not installed in this environment"
    return found


def _start_and_measure(command: list[str], port: int) -> tuple[float, float]:
    """Wall seconds until /health answers, and the CPU seconds the process used in all."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = float("inf")
    try:
        while time.monotonic() - started < 15:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                    wall = time.monotonic() - started
                    break
            except httpx.HTTPError:
                time.sleep(0.02)
    finally:
        process.terminate()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime


def test_console_script_starts_in_under_two_seconds() -> None:
    """Best of up to three starts of the installed console script.

    Wall-clock time depends on what else the machine runs. When it is overloaded (load average
    above twice the core count) the wall time says little, so the test then checks the CPU time
    the start-up needs instead; it prints both either way.
    """
    runs = []
    for _ in range(3):
        port = free_port()
        runs.append(_start_and_measure([_console_script(), "--port", str(port)], port))
        if runs[-1][0] < STARTUP_LIMIT:
            break
    load = os.getloadavg()[0]
    report = ", ".join(f"{wall:.2f}s wall/{cpu:.2f}s cpu" for wall, cpu in runs)
    print(f"emulator start-up to healthy: {report} (load average {load:.1f})")
    best_wall, best_cpu = min(runs)
    if load > 2 * (os.cpu_count() or 1):
        assert best_cpu < STARTUP_LIMIT / 2
    else:
        assert best_wall < STARTUP_LIMIT


def test_cli_switches_and_clean_stop() -> None:
    args = (
        "--cancel-terminal",
        "noop",
        "--unknown-ref-status",
        "400",
        "--job-delete-status",
        "200",
    )
    rows = {"type": "rows"}
    with run_emulator(*args, phase_seconds="created=0,pending=0,running=0") as emu:
        assert emu.startup_seconds > 0
        http = httpx.Client(base_url=emu.base_url)
        assert emu.control.settings()["phase_seconds"]["running"] == 0
        unknown = http.post("/v1/evaluation/jobs", json={"config": "x/y", "target": rows})
        assert unknown.status_code == 400
        job = http.post("/v1/evaluation/jobs", json={"config": {"type": "mmlu"}, "target": rows})
        job_id = job.json()["id"]
        assert http.get(f"/v1/evaluation/jobs/{job_id}").json()["status"] == "completed"
        assert http.post(f"/v1/evaluation/jobs/{job_id}/cancel").status_code == 200
        assert http.delete(f"/v1/evaluation/jobs/{job_id}").status_code == 200
        emu.control.update_settings(cancel_terminal="409")
        emu.control.reset()
        assert emu.control.settings()["cancel_terminal"] == "noop"  # reset restores CLI values
        http.close()
        process = emu.process
    assert process is not None
    assert process.poll() is not None  # stopped and reaped: no orphan left behind
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{emu.base_url}/health", timeout=0.5)


def test_bad_arguments_fail_fast_with_a_message() -> None:
    with (
        pytest.raises(EmulatorStartError, match="phase"),
        run_emulator("--phase-seconds", "lunch=1"),
    ):
        pass
    done = subprocess.run(
        [sys.executable, "-m", "nemo_evaluator_emulator", "--cancel-terminal", "x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_state_dir_survives_restart_and_kill(tmp_path: Path) -> None:
    with run_emulator(
        "--no-access-log", state_dir=tmp_path, phase_seconds="created=0,pending=0,running=0.2"
    ) as emu:
        sdk = NeMoMicroservices(
            base_url=emu.base_url, max_retries=0, _strict_response_validation=True
        )
        sdk.evaluation.configs.create(**custom_config())
        sdk.evaluation.targets.create(**model_target())
        done = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
        emu.control.set_phase_seconds(running=3600)
        long = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
        sdk.evaluation.jobs.cancel(str(long.id))
        time.sleep(0.3)
        before = sdk.evaluation.jobs.results(str(done.id)).model_dump()
        assert (tmp_path / "state.json").exists()

        emu.restart()  # graceful
        assert sdk.evaluation.configs.retrieve("qa-bleu", namespace="team-a").name == "qa-bleu"
        assert sdk.evaluation.jobs.results(str(done.id)).model_dump() == before
        assert sdk.evaluation.jobs.retrieve(str(long.id)).status in {"cancelling", "cancelled"}
        with pytest.raises(ConflictError):
            sdk.evaluation.targets.create(**model_target())

        emu.kill()  # a crash: SIGKILL, no shutdown hooks
        emu.start()
        assert {j.id for j in sdk.evaluation.jobs.list()} == {done.id, long.id}
        assert sdk.evaluation.jobs.retrieve(str(done.id)).status == "completed"
        sdk.close()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.json"]
    assert leftovers == []  # atomic writes leave no temp files

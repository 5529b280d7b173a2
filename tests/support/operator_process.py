"""Run the operator as a separate process, the way it runs in a Pod, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["OperatorProcess", "rbac_denials", "run_operator"]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """`python -m nemo_evaluator_operator` with a kubeconfig and a NeMo URL; restartable."""

    def __init__(
        self,
        kubeconfig: Path,
        evaluator_url: str,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.evaluator_url = evaluator_url
        self.log_dir = log_dir
        self.extra_env = dict(env or {})
        self.port = _free_port()
        self.metrics_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_files: list[Path] = []

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "OPERATOR_"))}
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            NEMO_EVALUATOR_URL=self.evaluator_url,
            OPERATOR_POLL_INTERVAL="1",
            OPERATOR_LIVENESS_ENDPOINT=self.liveness_url,
            OPERATOR_METRICS_PORT=str(self.metrics_port),
            OPERATOR_DEPENDENCY_GRACE_SECONDS="20",
            OPERATOR_DELETE_BUDGET_SECONDS="20",
            OPERATOR_PROGRESS_INTERVAL="0",
            OPERATOR_MAX_BACKOFF="4",
            OPERATOR_DRIFT_INTERVAL="3",
            OPERATOR_REQUEST_TIMEOUT="5",
            PYTHONPATH=os.pathsep.join([str(REPO / "operator"), env.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    cli_args: tuple[str, ...] = ("--verbose",)

    def _preexec(self) -> Callable[[], None] | None:
        """A preexec_fn for the child (subclasses may tie its life to the parent's)."""
        return None

    def start(self, wait: bool = True) -> None:
        """Start the process and wait until kopf's liveness endpoint answers."""
        self.starts += 1
        log = self.log_dir / f"operator-{self.starts}.log"
        self.log_files.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nemo_evaluator_operator", *self.cli_args],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._preexec(),
            )
        if wait:
            self.wait_live()

    def wait_live(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.liveness_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"operator not live after {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers run, like a node failure or OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait, like a Deployment rollout."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything every run of the operator printed."""
        return "".join(path.read_text(errors="replace") for path in self.log_files if path.exists())

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def rbac_denials(process: OperatorProcess) -> list[str]:
    """Log lines where the API server refused the operator for lack of permission.

    Writes into a namespace being deleted are refused with 403 too; those are not RBAC's.
    """
    denials = ("Forbidden", "Code: 403", "status=403", "Not enough permissions")
    return [
        line
        for line in process.output().splitlines()
        if any(word in line for word in denials) and "being terminated" not in line
    ]


@contextmanager
def run_operator(
    kubeconfig: Path, evaluator_url: str, log_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[OperatorProcess]:
    """An operator process for the duration of the block; always stopped afterwards."""
    process = OperatorProcess(kubeconfig, evaluator_url, log_dir, env)
    process.start()
    try:
        yield process
    finally:
        process.stop()

"""`run_emulator()`: start the emulator as a separate process for a test, and stop it after.

    from nemo_evaluator_emulator.testing import run_emulator

    with run_emulator(phase_seconds="created=0,pending=0.2,running=1") as emu:
        client = NeMoMicroservices(base_url=emu.base_url, max_retries=0)
        emu.control.fail_next(1, "boom")
        ...

The child runs `python -m nemo_evaluator_emulator` on a free 127.0.0.1 port. Start-up waits for
`/health` (bounded); on exit the child gets SIGTERM, then SIGKILL after a grace period. On Linux
the child also receives SIGTERM if the thread that started it dies, so a crashed test run leaves
no orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

import nemo_evaluator_emulator

from .control import EmulatorControl

__all__ = ["EmulatorStartError", "RunningEmulator", "free_port", "run_emulator"]

_SOURCE_ROOT = Path(nemo_evaluator_emulator.__file__).resolve().parent.parent


class EmulatorStartError(RuntimeError):
    """The emulator did not become healthy in time (the message carries its log tail)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None

    def set_pdeathsig() -> None:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return set_pdeathsig


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SOURCE_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class RunningEmulator:
    """A started emulator process: its URL, a control client, and lifecycle helpers."""

    def __init__(
        self, args: Sequence[str], log_path: Path, startup_timeout: float, die_with_parent: bool
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self.control = EmulatorControl(self.base_url)

    @property
    def base_url(self) -> str:
        """Host root to give clients (paths start with /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        """Everything the process wrote so far."""
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )

    def start(self) -> None:
        """Launch the process and wait for /health (raises EmulatorStartError).

        If the chosen port was grabbed meanwhile, retries on another one (the control client
        follows)."""
        for attempt in range(3):
            try:
                self._start_once()
                return
            except EmulatorStartError as exc:
                if "address already in use" not in str(exc).lower() or attempt == 2:
                    raise
                self.port = free_port()
                self.control.close()
                self.control = EmulatorControl(self.base_url)

    def _start_once(self) -> None:
        command = [sys.executable, "-m", "nemo_evaluator_emulator", "--host", "127.0.0.1",
                   "--port", str(self.port), *self.args]  # fmt: skip
        begun = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(),
                preexec_fn=_die_with_parent() if self.die_with_parent else None,
            )  # fmt: skip
        self._wait_healthy(begun)
        self.startup_seconds = time.monotonic() - begun

    def _wait_healthy(self, begun: float) -> None:
        assert self.process is not None
        while time.monotonic() - begun < self.startup_timeout:
            if self.process.poll() is not None:
                raise EmulatorStartError(
                    f"emulator exited with {self.process.returncode}:\n{self.logs()[-4000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise EmulatorStartError(
            f"emulator not healthy after {self.startup_timeout}s:\n{self.logs()[-4000:]}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; always reaps the child."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace)

    def kill(self) -> None:
        """SIGKILL at once (a crash, for restart tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port with the same arguments."""
        self.stop()
        self.start()


@contextlib.contextmanager
def run_emulator(
    *extra_args: str,
    phase_seconds: str | None = None,
    state_dir: Path | str | None = None,
    startup_timeout: float = 10.0,
    log_path: Path | None = None,
    die_with_parent: bool = True,
) -> Iterator[RunningEmulator]:
    """Run the emulator in a child process for the duration of the block.

    `extra_args` are passed to the CLI as-is (e.g. `"--cancel-terminal", "noop"`);
    `phase_seconds` is the `--phase-seconds` value and `state_dir` the `--state-dir`.
    """
    args = list(extra_args)
    if phase_seconds is not None:
        args += ["--phase-seconds", phase_seconds]
    if state_dir is not None:
        args += ["--state-dir", str(state_dir)]
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="nemo-evaluator-emulator-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    emulator = RunningEmulator(args, log_path, startup_timeout, die_with_parent)
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()
        emulator.control.close()

"""`run_fault_proxy()`: start the proxy as a separate process for a test, and stop it after.

    from fault_proxy.testing import run_fault_proxy

    with run_fault_proxy("http://127.0.0.1:18080", seed=7) as proxy:
        client = httpx.Client(base_url=proxy.base_url)
        proxy.control.add_fault("drop_after", "/apis/evals/v2/", method="POST", count=1)
        ...

The child runs `python -m fault_proxy` on a free 127.0.0.1 port (or the one given). Start-up
waits for `/_proxy/health` (bounded); on exit the child gets SIGTERM, then SIGKILL after a grace
period. On Linux the child also receives SIGTERM if the thread that started it dies, so a crashed
test run leaves no orphan.
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

import fault_proxy

from .control import FaultProxyControl

__all__ = ["FaultProxyStartError", "RunningFaultProxy", "free_port", "run_fault_proxy"]

_SOURCE_ROOT = Path(fault_proxy.__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


class FaultProxyStartError(RuntimeError):
    """The proxy did not become healthy in time (the message carries its log tail)."""


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
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_pdeathsig


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SOURCE_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class RunningFaultProxy:
    """A started proxy process: its URL, a control client, and lifecycle helpers."""

    def __init__(
        self,
        args: Sequence[str],
        port: int | None,
        log_path: Path,
        startup_timeout: float,
        die_with_parent: bool,
    ) -> None:
        self.args = list(args)
        self.fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self.control = FaultProxyControl(self.base_url)

    @property
    def base_url(self) -> str:
        """Where clients go instead of upstream (same paths)."""
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        """Everything the process wrote so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        """Launch the process and wait for health (raises FaultProxyStartError).

        If a chosen free port was grabbed meanwhile, retries on another one (the control client
        follows); a port given by the caller is not changed."""
        for attempt in range(3):
            try:
                self._start_once()
                return
            except FaultProxyStartError as exc:
                in_use = "address already in use" in str(exc).lower()
                if self.fixed_port or not in_use or attempt == 2:
                    raise
                self.port = free_port()
                self.control.close()
                self.control = FaultProxyControl(self.base_url)

    def _start_once(self) -> None:
        command = [sys.executable, "-m", "fault_proxy", "--host", "127.0.0.1",
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
        url = f"{self.base_url}/_proxy/health"
        while time.monotonic() - begun < self.startup_timeout:
            if self.process.poll() is not None:
                raise FaultProxyStartError(
                    f"fault proxy exited with {self.process.returncode}:\n{self.logs()[-4000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=0.5, trust_env=False).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise FaultProxyStartError(
            f"fault proxy not healthy after {self.startup_timeout}s:\n{self.logs()[-4000:]}"
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
        """SIGKILL at once (a crash of the proxy: every open connection breaks)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port with the same arguments (faults are lost)."""
        self.stop()
        self.start()


@contextlib.contextmanager
def run_fault_proxy(
    upstream: str,
    *extra_args: str,
    port: int | None = None,
    seed: int | None = None,
    log_bodies: bool = False,
    startup_timeout: float = 10.0,
    log_path: Path | None = None,
    die_with_parent: bool = True,
) -> Iterator[RunningFaultProxy]:
    """Run the proxy in front of `upstream` in a child process for the duration of the block.

    `extra_args` go to the CLI as-is (e.g. `"--no-access-log"`); `port=None` picks a free one.
    """
    args = ["--upstream", upstream, *extra_args]
    if seed is not None:
        args += ["--seed", str(seed)]
    if log_bodies:
        args.append("--log-bodies")
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="fault-proxy-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    proxy = RunningFaultProxy(args, port, log_path, startup_timeout, die_with_parent)
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()
        proxy.control.close()

"""`run_model_server()`: the table model server as a separate process, for tests and demos.

    from openai_table_server.testing import run_model_server

    with run_model_server({"good": {"answers": {"What is 2+2?": "4"}}}) as model:
        target = {"url": model.chat_url, "name": "good", "format": "openai"}
        model.add_rule(contains="2+2", delay=2.0, times=1)
        ...
        assert len(model.requests(model="good")) == 1

The child runs `python -m openai_table_server` on a free 127.0.0.1 port (or the given one).
Start-up waits for `/health` (bounded); on exit the child gets SIGTERM, then SIGKILL after a
grace period. On Linux the child also gets SIGTERM when the thread that started it dies, so a
crashed test run leaves no orphan. The child runs in a process group of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

import openai_table_server

__all__ = ["ModelServerError", "RunningModelServer", "run_model_server"]

_SOURCE_ROOT = Path(openai_table_server.__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_PORT_ATTEMPTS = 3


class ModelServerError(RuntimeError):
    """The model server did not start, or a control call failed (the message says why)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether we could listen on the port (checked first: /health could reach another server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """preexec_fn: SIGTERM the child when its parent thread dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM), ctypes.c_ulong(0), 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


class RunningModelServer:
    """A started model server: its URLs, its log, and a small sync control client."""

    def __init__(self, table_path: Path, port: int | None, log_path: Path) -> None:
        self.table_path = table_path
        self.fixed_port = port is not None
        self.port = port if port is not None else _free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        self._http = httpx.Client(timeout=10.0, trust_env=False)

    @property
    def base_url(self) -> str:
        """Host root; the OpenAI routes are under /v1."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/v1/chat/completions"

    @property
    def completions_url(self) -> str:
        return f"{self.base_url}/v1/completions"

    def logs(self) -> str:
        """Everything the process wrote so far."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return ""

    # ----------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 20.0) -> None:
        """Launch the process and wait for /health; retries on another free port if needed."""
        for attempt in range(_PORT_ATTEMPTS):
            try:
                self._start_once(timeout)
                return
            except ModelServerError as exc:
                retry = not self.fixed_port and "address already in use" in str(exc).lower()
                if not retry or attempt == _PORT_ATTEMPTS - 1:
                    raise
                self.port = _free_port()

    def _start_once(self, timeout: float) -> None:
        if not _port_free(self.port):
            raise ModelServerError(f"127.0.0.1:{self.port}: address already in use")
        command = [sys.executable, "-m", "openai_table_server", "--host", "127.0.0.1",
                   "--port", str(self.port), "--table", str(self.table_path)]  # fmt: skip
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(_SOURCE_ROOT), env.get("PYTHONPATH")])
        )
        begun = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, preexec_fn=_die_with_parent(os.getpid()),
                process_group=0,  # a terminal's Ctrl-C reaches only the parent, which stops us
            )  # fmt: skip
        while time.monotonic() - begun < timeout:
            if self.process.poll() is not None:
                raise ModelServerError(
                    f"model server exited with {self.process.returncode}:\n{self.logs()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if self._http.get(f"{self.base_url}/health", timeout=0.5).status_code == 200:
                    self.startup_seconds = time.monotonic() - begun
                    return
            time.sleep(0.05)
        self.stop()
        raise ModelServerError(f"model server not healthy after {timeout}s:\n{self.logs()[-3000:]}")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; always reaps the child."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)

    def close(self) -> None:
        self.stop()
        self._http.close()

    # ----------------------------------------------------------------- control client

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = self._http.request(
                method, f"{self.base_url}{path}", json=body, params=query or None
            )
        except httpx.HTTPError as exc:
            raise ModelServerError(f"{method} {path}: {exc}") from exc
        if response.status_code != 200:
            raise ModelServerError(f"{method} {path}: HTTP {response.status_code} {response.text}")
        return response.json()

    def set_table(self, table: dict[str, Any]) -> list[str]:
        """Replace the answer table; returns the model ids it serves."""
        models: list[str] = self._call("PUT", "/_control/table", table)["models"]
        return models

    def add_rule(
        self,
        contains: str = "",
        model: str | None = None,
        delay: float = 0.0,
        status: int | None = None,
        times: int | None = None,
    ) -> dict[str, Any]:
        """Make prompts containing `contains` (of `model`, or any) slow and/or fail.

        `times` limits the rule to that many requests (None: every request)."""
        body = {"contains": contains, "model": model, "delay": delay, "status": status,
                "times": times}  # fmt: skip
        rule: dict[str, Any] = self._call("POST", "/_control/rules", body)
        return rule

    def clear_rules(self) -> int:
        cleared: int = self._call("DELETE", "/_control/rules")["cleared"]
        return cleared

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        """The request log, oldest first: time, path, model, prompt, authorization, status..."""
        entries: list[dict[str, Any]] = self._call("GET", "/_control/requests", model=model)
        return entries

    def clear_requests(self) -> int:
        cleared: int = self._call("DELETE", "/_control/requests")["cleared"]
        return cleared


@contextlib.contextmanager
def run_model_server(
    table: dict[str, Any] | None = None,
    port: int | None = None,
    log_path: Path | str | None = None,
) -> Iterator[RunningModelServer]:
    """Run the model server in a child process for the duration of the block.

    `table` is the answer table (`{"model": {"answers": {prompt: text}, "default": text}}`),
    empty when None; `port` a fixed port (default: a free one); `log_path` the process log
    (default: a temporary file).
    """
    with tempfile.TemporaryDirectory(prefix="openai-table-server-") as scratch:
        table_path = Path(scratch) / "table.json"
        table_path.write_text(json.dumps(table or {}))
        log = Path(log_path) if log_path is not None else Path(scratch) / "server.log"
        server = RunningModelServer(table_path, port, log)
        try:
            server.start()
            yield server
        finally:
            server.close()

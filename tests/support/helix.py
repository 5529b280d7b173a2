"""NVIDIA's real evaluator, NeMo Helix, as a local server for tests and ``make helix``.

Why: the operator must work against the evaluator NVIDIA ships, not only against our emulator.
Helix 0.8.1 needs Python 3.12, so it runs from its own venv (``.helix/venv``, built by
``make helix-env`` from ``tools/helix/requirements.lock``) as a separate process: SQLite, local
files and jobs as child processes, all under one run directory. A missing or stale venv is a
``HelixStartError`` (tests fail, never skip).

By hand (``make helix``)::

    python -m tests.support.helix [--port 18080] [--model-port 18999]

runs Helix and the table model server (answers from ``tools/helix/demo-answers.json``) in the
foreground until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx

from openai_table_server.testing import ModelServerError, run_model_server

__all__ = [
    "DEMO_ANSWERS",
    "HELIX_VENV",
    "HelixServer",
    "HelixStartError",
    "demo_dataset",
    "demo_table",
    "main",
]

REPO = Path(__file__).resolve().parents[2]
HELIX_VENV = REPO / ".helix" / "venv"
HELIX_LOCK = REPO / "tools" / "helix" / "requirements.lock"
CONFIG_TEMPLATE = REPO / "tools" / "helix" / "config.yaml.in"
DEMO_ANSWERS = REPO / "tools" / "helix" / "demo-answers.json"
SERVICES = "entities,files,jobs,secrets,evals"  # the deployments service needs Docker
CONTROLLERS = "jobs,entities"
READY_PATHS = ("/health/ready", "/apis/evals/v1/healthz")
START_TIMEOUT = 240.0
STOP_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1
_PORT_ATTEMPTS = 3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class HelixStartError(RuntimeError):
    """Helix is not built, or did not become ready; the message says why (with the log tail)."""


def demo_table() -> dict[str, Any]:
    """The demo answer table: models ``good``, ``fair`` and ``poor`` (5, 3 and 1 of 5 right)."""
    table: dict[str, Any] = json.loads(DEMO_ANSWERS.read_text())
    return table


def demo_dataset() -> list[dict[str, str]]:
    """The demo's 5 rows ``{question, expected}``; model ``good``'s answers are the reference."""
    answers = demo_table()["good"]["answers"]
    return [{"question": q, "expected": a} for q, a in answers.items()]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """preexec_fn: SIGTERM (Helix then ends its jobs) when the starting thread dies."""
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def setup() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM), ctypes.c_ulong(0), 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) of every live process (zombies excluded)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] not in ("Z", "X"):
                table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def _cwd_under(pid: int, root: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(root)
    except OSError:
        return False


def _describe(pid: int) -> str:
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return f"{pid} {cmdline.strip()[:200]}"
    return str(pid)


def _stamp_problem(venv: Path) -> str | None:
    """Why the venv is missing or older than the lock, or None when it is current."""
    if not os.access(venv / "bin" / "nemo", os.X_OK):
        return f"{venv / 'bin' / 'nemo'} not found: run `make helix-env` to build NeMo Helix"
    try:
        stamp = (venv / ".stamp").read_text()
    except OSError:
        return f"{venv} is an unfinished build (no .stamp): run `make helix-env`"
    digest = hashlib.sha256(HELIX_LOCK.read_bytes()).hexdigest()
    if f"lock-sha256={digest}" not in stamp:
        return f"{venv} is older than {HELIX_LOCK.name}: run `make helix-env`"
    return None


class HelixServer:
    """``nemo services run`` with the evaluation services, on one port, in one run directory.

    ``start()`` uses a fresh run directory ``<base_dir>/helix-<port>`` (data, jobs, state,
    home, config, logs); ``restart(keep_data=True)`` keeps it and the port, so stored jobs
    survive. Usable as a context manager.
    """

    def __init__(
        self,
        base_dir: Path,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        venv: Path | None = None,
        instance: str | None = None,
        start_timeout: float = START_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.host = host
        self.fixed_port = port is not None
        self.port = port if port is not None else _free_port(host)
        self.venv = venv or HELIX_VENV
        self._instance = instance
        self.instance = instance or f"test-{self.port}"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.startup_seconds = 0.0  # of the latest start
        self.start_times: list[float] = []  # seconds until ready, per start
        self.log_files: list[Path] = []
        self.stragglers: list[str] = []  # processes stop() had to SIGKILL after Helix exited

    # ----------------------------------------------------------------- paths

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.base_dir / f"helix-{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def jobs_dir(self) -> Path:
        return self.run_dir / "jobs"

    @property
    def log_path(self) -> Path:
        """The current (latest) server log."""
        return self.log_files[-1] if self.log_files else self.run_dir / "server-1.log"

    @property
    def version(self) -> str:
        """The installed nemo-helix version, from its dist-info (no process start)."""
        found = sorted(self.venv.glob("lib/python3.*/site-packages/nemo_helix-*.dist-info"))
        return found[-1].name.removesuffix(".dist-info").split("-")[-1] if found else "unknown"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> HelixServer:
        """Start on a fresh run directory and wait until Helix is ready (HelixStartError)."""
        problem = _stamp_problem(self.venv) if self.venv == HELIX_VENV else None
        if problem is None and not os.access(self.venv / "bin" / "nemo", os.X_OK):
            problem = f"{self.venv / 'bin' / 'nemo'} not found"
        if problem:
            raise HelixStartError(problem)
        for attempt in range(_PORT_ATTEMPTS):
            shutil.rmtree(self.run_dir, ignore_errors=True)
            try:
                self._launch()
                return self
            except HelixStartError as exc:
                retry = not self.fixed_port and "address already in use" in str(exc).lower()
                if not retry or attempt == _PORT_ATTEMPTS - 1:
                    raise
                self.port = _free_port(self.host)
                self.instance = self._instance or f"test-{self.port}"
        raise AssertionError("unreachable")

    def restart(self, keep_data: bool = True) -> float:
        """Stop, then start again on the same port; seconds until ready again."""
        self.stop()
        if not keep_data:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self._launch()
        return self.startup_seconds

    def _launch(self) -> None:
        if not _port_free(self.host, self.port):
            raise HelixStartError(f"{self.host}:{self.port}: address already in use")
        config = self._prepare_run_dir()
        self.starts += 1
        log = self.run_dir / f"server-{self.starts}.log"
        self.log_files.append(log)
        command = [str(self.venv / "bin" / "nemo"), "services", "run", "--config", str(config),
                   "--services", SERVICES, "--controllers", CONTROLLERS, "--host", self.host,
                   "--port", str(self.port), "--instance", self.instance]  # fmt: skip
        begun = time.monotonic()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=self.run_dir, env=self._env(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, process_group=0,
                preexec_fn=_die_with_parent(os.getpid()),
            )  # fmt: skip
        try:
            self._wait_ready(begun)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begun
        self.start_times.append(self.startup_seconds)

    def _prepare_run_dir(self) -> Path:
        for sub in ("data", "jobs", "state", "home"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        values = {"@BASE_URL@": self.base_url, "@DATA_DIR@": str(self.data_dir),
                  "@JOBS_DIR@": str(self.jobs_dir)}  # fmt: skip
        text = CONFIG_TEMPLATE.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        config = self.run_dir / "config.yaml"
        config.write_text(text)
        return config

    def _env(self) -> dict[str, str]:
        """Our environment minus anything that steers Python, Helix or OpenTelemetry."""
        dropped = ("NHX_", "NEMO_", "OTEL_", "XDG_", "PYTHON", "VIRTUAL_ENV", "CONDA_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        bin_dir = str(self.venv / "bin")
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1,localhost"]))
        env.update(
            NHX_DATA_DIR=str(self.data_dir),
            XDG_STATE_HOME=str(self.run_dir / "state"),
            HOME=str(self.run_dir / "home"),
            # Jobs run `python` from VIRTUAL_ENV, else from the server's own bin directory.
            VIRTUAL_ENV=str(self.venv),
            PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
            NEMO_TELEMETRY_ENABLED="false",
            NO_PROXY=no_proxy,
            no_proxy=no_proxy,
            PYTHONUNBUFFERED="1",
        )
        return env

    def _wait_ready(self, begun: float) -> None:
        assert self.process is not None
        pending = list(READY_PATHS)
        with httpx.Client(base_url=self.base_url, timeout=3.0, trust_env=False) as http:
            while pending:
                if self.process.poll() is not None:
                    raise HelixStartError(
                        f"Helix exited with code {self.process.returncode} before it was ready; "
                        f"last log lines ({self.log_path}):\n{self.tail()}"
                    )
                if time.monotonic() - begun > self.start_timeout:
                    raise HelixStartError(
                        f"Helix not ready after {self.start_timeout:.0f}s ({pending[0]} did not "
                        f"answer 200); last log lines ({self.log_path}):\n{self.tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    while pending and http.get(pending[0]).status_code == 200:
                        pending.pop(0)
                time.sleep(0.25)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after ``stop_timeout``; then make sure nothing
        of this Helix is left, job processes (in sessions of their own) included."""
        process, self.process = self.process, None
        if process is None:
            return
        seen = self.processes(process.pid)
        if process.poll() is None:
            _killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                _killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self._reap(process.pid, seen)

    def _reap(self, pgid: int, seen: list[int]) -> None:
        """Give what outlived the server 2 s to exit, then SIGKILL it (noted in stragglers).

        Helix 0.8.1 exits on SIGTERM without ending running job processes, so those end here.
        """
        deadline = time.monotonic() + 2.0
        while True:
            left = sorted(set(self.processes(pgid)) | (set(seen) & set(_proc_table())))
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for pid in left:
            self.stragglers.append(_describe(pid))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while left and time.monotonic() < deadline:  # SIGKILL is delivered asynchronously
            time.sleep(0.05)
            left = [pid for pid in left if pid in _proc_table()]
        if left:
            raise RuntimeError(f"Helix processes survived SIGKILL: {[_describe(p) for p in left]}")

    def processes(self, pgid: int | None = None) -> list[int]:
        """Live pids of this Helix: its process group, job processes running in its jobs
        directory, and their descendants."""
        if pgid is None:
            pgid = self.process.pid if self.process is not None else -1
        table = _proc_table()
        found = {pid for pid, (_, group) in table.items() if group == pgid}
        found |= {pid for pid in table if _cwd_under(pid, self.jobs_dir)}
        grew = True
        while grew:
            more = {pid for pid, (ppid, _) in table.items() if ppid in found} - found
            found |= more
            grew = bool(more)
        found.discard(os.getpid())
        return sorted(found)

    def __enter__(self) -> HelixServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- logs and API helpers

    def output(self) -> str:
        """Everything every run of this server printed."""
        text = "".join(p.read_text(errors="replace") for p in self.log_files if p.exists())
        return _ANSI.sub("", text)  # Helix colours its log even when it goes to a file

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An httpx client for this server (close it when done)."""
        return httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def ensure_workspace(self, name: str) -> int:
        """Create workspace ``name``; returns 201 (created) or 409 (it existed)."""
        with self.client() as http:
            response = http.post("/apis/entities/v2/workspaces", json={"name": name})
        if response.status_code not in (201, 409):
            raise RuntimeError(
                f"creating workspace {name!r}: HTTP {response.status_code} {response.text[:500]}"
            )
        return response.status_code


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# --------------------------------------------------------------------------- make helix


class _TerminatedError(Exception):
    """SIGTERM arrived."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _TerminatedError


def _serve(args: argparse.Namespace) -> None:
    """Model server, then Helix; returns when either exits on its own."""

    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    table = json.loads(Path(args.answers).read_text())
    log = state / f"model-server-{args.model_port}.log"
    with run_model_server(table, port=args.model_port, log_path=log) as model:
        print(f"helix: model server at {model.base_url} (models {', '.join(table)}; "
              f"target url {model.chat_url}; log {log})", flush=True)  # fmt: skip
        print("helix: starting NeMo Helix (20-50 s)...", flush=True)
        with HelixServer(state, args.port, host=args.host, instance="make-helix") as helix:
            ready = f"ready in {helix.startup_seconds:.1f}s; run dir {helix.run_dir}"
            print(f"helix: NeMo Helix {helix.version} at {helix.base_url} ({ready})", flush=True)
            jobs = f"{helix.base_url}/apis/evals/v2/workspaces/WS/evaluate/jobs"
            print(f"helix: evaluation jobs at {jobs}; Ctrl-C stops both", flush=True)
            while helix.running and model.process is not None and model.process.poll() is None:
                time.sleep(1.0)
            print(f"helix: a server exited on its own; Helix log tail:\n{helix.tail()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.helix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080, help="Helix port (default 18080)")
    parser.add_argument("--model-port", type=int, default=18999, help="model server port")
    parser.add_argument("--answers", default=str(DEMO_ANSWERS), help="answer table JSON")
    parser.add_argument(
        "--state-dir",
        default=str(REPO / ".testenv"),
        help="parent of the run directory helix-<port> (wiped at start)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    try:
        _serve(args)
    except (KeyboardInterrupt, _TerminatedError):
        print("\nhelix: stopped", flush=True)
        return 0
    except (HelixStartError, ModelServerError) as exc:
        hint = " (other ports: --port N --model-port M)" if "already in use" in str(exc) else ""
        print(f"helix: {exc}{hint}", file=sys.stderr)
        return 1
    return 1  # a server died on its own


if __name__ == "__main__":
    sys.exit(main())

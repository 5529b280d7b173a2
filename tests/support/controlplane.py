"""A real local Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager.

Why: what the operator relies on (structural schemas, CEL rules, status subresources, RBAC,
garbage collection) only a real API server does, so the tests run against the real thing.
Binaries come from ``$KUBEBUILDER_ASSETS`` or ``<repo>/.testbin`` (built by ``make testbin``).

By hand (``make cluster``)::

    python -m tests.support.controlplane --kubeconfig-out .testenv/kubeconfig

runs the control plane in the foreground until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

__all__ = [
    "REPO_ROOT",
    "REQUIRED_BINARIES",
    "ControlPlane",
    "ControlPlaneError",
    "ExternalCluster",
    "Kubectl",
    "KubectlError",
    "api_client_for",
    "find_bin_dir",
    "main",
    "pid_alive",
    "remove_stale_workdirs",
    "service_account_token",
    "wait_until",
    "write_kubeconfig",
]

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 20
WORKDIR_PREFIX = "nemo-cp-"
CONTROLLERS = "garbage-collector-controller,namespace-controller"
_GC_SYNCED_MARKER = "Proceeding to collect garbage"  # garbagecollector.go, logged once synced
_PORT_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1
_SA_PREFIX = "system:serviceaccount:"


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used; the first line says why."""


class KubectlError(subprocess.CalledProcessError):
    """A kubectl call failed; unlike CalledProcessError, str() includes kubectl's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


# --------------------------------------------------------------------------- binaries, ports


def find_bin_dir() -> Path:
    """``$KUBEBUILDER_ASSETS`` if set (setup-envtest layout), else ``<repo>/.testbin``."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    return Path(assets) if assets else REPO_ROOT / ".testbin"


def check_binaries(bin_dir: Path, names: Iterable[str] = REQUIRED_BINARIES) -> None:
    """Fail with one line naming the missing binaries, so a missing build is never a skip."""
    missing = [n for n in names if not os.access(bin_dir / n, os.X_OK)]
    if not missing:
        return
    hint = "run `make testbin` to build them"
    if os.environ.get("KUBEBUILDER_ASSETS"):
        hint += " (or unset KUBEBUILDER_ASSETS, which points there)"
    raise ControlPlaneError(f"{', '.join(missing)} not found in {bin_dir}: {hint}")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (start-up retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone: it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a component log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def remove_stale_workdirs(tmp: Path | None = None) -> list[Path]:
    """Delete work dirs left by runs that were SIGKILLed (their owner process is gone)."""
    removed = []
    for workdir in Path(tmp or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((workdir / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not pid_alive(owner):
            shutil.rmtree(workdir, ignore_errors=True)
            removed.append(workdir)
    return removed


# --------------------------------------------------------------------------- child processes


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """preexec_fn: die with the parent (PR_SET_PDEATHSIG), so a SIGKILLed pytest leaks nothing.

    The death signal is tied to the *thread* that forked, so start planes from a long-lived
    thread (pytest's main thread is).
    """
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def setup() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


class _Process:
    """One control-plane component: its argv, its log file and its process."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # kept after stop(), so callers can check it is gone

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            try:
                self.popen = self._popen(log)
            except OSError as exc:
                raise ControlPlaneError(f"{self.name} could not be run: {exc}") from exc
        self.pid = self.popen.pid

    def _popen(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,  # own group: a terminal Ctrl-C reaches only us; we stop in order
            preexec_fn=_child_setup(os.getpid()),
            close_fds=True,
        )

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, then SIGKILL it after ``timeout`` seconds."""
        if self.popen is None:
            return
        popen, self.popen = self.popen, None
        if popen.poll() is None:
            _killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout)

    def failure(self, cause: str) -> ControlPlaneError:
        tail = log_tail(self.log_path)
        return ControlPlaneError(f"{self.name} {cause}; last log lines:\n{tail}")


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _http_get(url: str, token: str | None = None) -> tuple[int, str]:
    """GET without proxies or TLS verification (readiness probes only); 0 if unreachable."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl._create_unverified_context()),
    )
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=3) as resp:
            return int(resp.status), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def _wait_ready(proc: _Process, probe: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll ``probe`` until true; fail fast if the process exits, bounded by ``timeout``."""
    start = time.monotonic()
    while True:
        code = proc.exit_code()
        if code is not None:
            raise proc.failure(f"exited with code {code} before {what}")
        if probe():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise proc.failure(f"not ready after {timeout:.0f}s (waiting for {what})")
        time.sleep(0.1)


def wait_until(
    predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Poll until ``predicate`` returns something truthy and return it; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- kubeconfig, tokens


def write_kubeconfig(
    path: Path, server: str, token: str, ca_file: Path | None, *, name: str = "testenv"
) -> Path:
    """Write a token kubeconfig; the CA is embedded so the file stays valid when copied."""
    cluster: dict[str, Any] = {"server": server}
    if ca_file is None:
        cluster["insecure-skip-tls-verify"] = True
    else:
        cluster["certificate-authority-data"] = base64.b64encode(ca_file.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def service_account_token(
    api: k8s.ApiClient, namespace: str, name: str, expiration_seconds: int = 3600
) -> str:
    """A TokenRequest-API token for ServiceAccount ``namespace/name`` (created if missing)."""
    core = k8s.CoreV1Api(api)
    try:
        account = k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name))
        core.create_namespaced_service_account(namespace, account)
    except ApiException as exc:
        if exc.status != 409:
            raise
    spec = k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
    result = core.create_namespaced_service_account_token(
        name, namespace, k8s.AuthenticationV1TokenRequest(spec=spec)
    )
    if result.status is None or not result.status.token:
        raise ControlPlaneError(f"TokenRequest for {namespace}/{name} returned no token")
    return result.status.token


def api_client_for(server: str, token: str, ca_file: Path | None) -> k8s.ApiClient:
    """An ApiClient for a bearer token (verifying TLS against ``ca_file`` when given)."""
    cfg = k8s.Configuration(
        host=server,
        api_key={"BearerToken": token},
        api_key_prefix={"BearerToken": "Bearer"},
        ssl_ca_cert=str(ca_file) if ca_file else None,
    )
    cfg.verify_ssl = ca_file is not None
    return k8s.ApiClient(cfg)


def _split_sa_user(user: str) -> tuple[str, str] | None:
    """``system:serviceaccount:<ns>:<name>`` → (ns, name); None for other users."""
    if not user.startswith(_SA_PREFIX):
        return None
    namespace, _, name = user.removeprefix(_SA_PREFIX).partition(":")
    return (namespace, name) if namespace and name else None


def _generate_sa_key(path: Path) -> None:
    """One EC P-256 key serves both service-account flags (sign and verify)."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


# --------------------------------------------------------------------------- the control plane

_LIVE: set[ControlPlane] = set()
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _stop_all() -> None:
    """Stop every live plane (atexit and fatal-signal path)."""
    with _LIVE_LOCK:
        planes = list(_LIVE)
    for plane in planes:
        plane.stop()


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """Stop the planes, then die of the same signal as if we had not caught it."""
    _stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    """atexit + SIGTERM/SIGHUP cleanup, installed once, never replacing a custom handler."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_fatal_signal)


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on free loopback ports.

    ``start()`` returns once ``/readyz`` is ok and namespaces ``default`` and ``kube-system``
    exist; ``stop()`` ends every process and removes the work dir. Usable as a context manager.
    """

    def __init__(
        self,
        bin_dir: Path | None = None,
        *,
        controller_manager: bool = True,
        extra_apiserver_args: Sequence[str] = (),
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.bin_dir = (bin_dir or find_bin_dir()).resolve()
        self.controller_manager = controller_manager
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.ready_timeout = ready_timeout
        self.admin_token = secrets.token_hex(24)
        self.workdir: Path | None = None
        self.server = ""
        self.version = ""
        self._etcd_url = ""
        self.startup_seconds = 0.0
        self.timings: dict[str, float] = {}
        self._procs: dict[str, _Process] = {}
        self._static_tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    # ----------------------------------------------------------------- paths and identity

    @property
    def kubeconfig(self) -> Path:
        return self._dir / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        """The apiserver's self-signed serving cert (chain incl. its CA) from --cert-dir."""
        return self._dir / "pki" / "apiserver.crt"

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def pids(self) -> dict[str, int]:
        """The latest pid of each component, also after stop() (to check that none is left)."""
        return {n: p.pid for n, p in self._procs.items() if p.pid is not None}

    @property
    def _dir(self) -> Path:
        if self.workdir is None:
            raise ControlPlaneError("control plane is not started")
        return self.workdir

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ControlPlane:
        """Start etcd → kube-apiserver → kube-controller-manager; stop everything on failure."""
        check_binaries(self.bin_dir)
        remove_stale_workdirs()
        began = time.monotonic()
        self._prepare_workdir()
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_hooks()
        try:
            self.timings["etcd"] = self._start_with_port_retry(self._start_etcd)
            self.timings["kube-apiserver"] = self._start_with_port_retry(self._start_apiserver)
            write_kubeconfig(self.kubeconfig, self.server, self.admin_token, self.ca_file)
            self.timings["namespaces"] = self._wait_namespaces()
            if self.controller_manager:
                self.timings["kube-controller-manager"] = self._start_controller_manager()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = self.timings["total"] = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Terminate in reverse start order (SIGTERM, 10 s, SIGKILL); remove the work dir."""
        for proc in reversed(list(self._procs.values())):
            proc.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def restart_apiserver(self) -> float:
        """Stop and start kube-apiserver on the same port and etcd; seconds until ready."""
        proc = self._procs["kube-apiserver"]
        proc.stop()
        proc.start()
        return self._wait_apiserver(proc)

    def restart_controller_manager(self) -> float:
        """Restart kube-controller-manager so its garbage collector knows CRDs added since.

        The collector rediscovers resource kinds only every 30 s, so objects owned by a kind
        created later may wait up to a minute to be collected; a restart takes under a second.
        """
        if not self.controller_manager:
            raise ControlPlaneError("this control plane runs no kube-controller-manager")
        return self._start_controller_manager()

    def running(self) -> dict[str, int | None]:
        """Exit code per component (None while it runs), to spot a crashed component."""
        return {name: proc.exit_code() for name, proc in self._procs.items()}

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ControlPlane {self.server or 'stopped'} {self.version}>"

    # ----------------------------------------------------------------- API access

    def api_client(self, token: str | None = None) -> k8s.ApiClient:
        """A fresh ApiClient, admin unless ``token`` is given (close it when done)."""
        return api_client_for(self.server, token or self.admin_token, self.ca_file)

    def service_account_token(
        self, namespace: str, name: str, expiration_seconds: int = 3600
    ) -> str:
        """A TokenRequest token for a ServiceAccount (created if missing)."""
        with self.api_client() as api:
            return service_account_token(api, namespace, name, expiration_seconds)

    def token_for(self, user: str, groups: Sequence[str] = ()) -> str:
        """A bearer token authenticating as ``user`` in ``groups``.

        ServiceAccount users (``system:serviceaccount:<ns>:<name>``) get a TokenRequest token
        at once (their groups are implied). Any other identity is added to the static token
        file, which kube-apiserver reads only at start, so that costs an apiserver restart
        (a few seconds); prefer ServiceAccounts.
        """
        sa = _split_sa_user(user)
        if sa is not None:
            if groups:
                raise ValueError("a ServiceAccount's groups are implied; pass no groups")
            return self.service_account_token(*sa)
        key = (user, tuple(groups))
        if key not in self._static_tokens:
            if re.search(r'[,"\n]', user + "".join(groups)):
                raise ValueError("user and group names may not contain commas or quotes")
            self._static_tokens[key] = secrets.token_hex(24)
            self._write_token_file()
            self.restart_apiserver()
        return self._static_tokens[key]

    def kubeconfig_for_token(self, token: str, path: Path) -> Path:
        """Write a kubeconfig for another identity on this server."""
        return write_kubeconfig(path, self.server, token, self.ca_file)

    # ----------------------------------------------------------------- start-up steps

    def _prepare_workdir(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        (self.workdir / "pki").mkdir()
        _generate_sa_key(self.workdir / "sa.key")
        self._write_token_file()

    def _write_token_file(self) -> None:
        lines = [f'{self.admin_token},admin,admin,"system:masters"']
        for (user, groups), token in self._static_tokens.items():
            lines.append(f'{token},{user},{user},"{",".join(groups)}"')
        path = self._dir / "tokens.csv"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)

    def _start_with_port_retry(self, start: Callable[[], float]) -> float:
        """Run a start step again on fresh ports if another process took a port meanwhile."""
        for attempt in range(_PORT_ATTEMPTS):
            try:
                return start()
            except ControlPlaneError as exc:
                if "address already in use" not in str(exc) or attempt == _PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self, name: str, argv: list[str]) -> _Process:
        old = self._procs.pop(name, None)
        if old is not None:
            old.stop()
        proc = _Process(name, argv, self._dir / f"{name}.log")
        self._procs[name] = proc
        proc.start()
        return proc

    def _start_etcd(self) -> float:
        client, peer = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        proc = self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                f"--data-dir={self._dir / 'etcd'}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                "--name=testenv",
                f"--initial-cluster=testenv={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        probe = lambda: _http_get(f"{self._etcd_url}/health")[0] == 200  # noqa: E731
        return _wait_ready(proc, probe, "/health", self.ready_timeout)

    def _apiserver_argv(self, port: int) -> list[str]:
        d = self._dir
        return [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            "--endpoint-reconciler-type=none",
            f"--cert-dir={d / 'pki'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--allow-privileged=true",
            "--shutdown-send-retry-after=true",  # 2 s HTTP shutdown, not 60 s with open watches
            *self.extra_apiserver_args,
        ]

    def _start_apiserver(self) -> float:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        proc = self._spawn("kube-apiserver", self._apiserver_argv(port))
        return self._wait_apiserver(proc)

    def _wait_apiserver(self, proc: _Process) -> float:
        """Wait for /readyz = ok, then record /version's gitVersion."""

        def ready() -> bool:
            return _http_get(f"{self.server}/readyz", self.admin_token) == (200, "ok")

        seconds = _wait_ready(proc, ready, "/readyz", self.ready_timeout)
        status, body = _http_get(f"{self.server}/version", self.admin_token)
        if status != 200:
            raise proc.failure(f"answered /version with HTTP {status}")
        self.version = str(json.loads(body)["gitVersion"])
        return seconds

    def _wait_namespaces(self) -> float:
        """The apiserver creates default and kube-system itself, shortly after /readyz."""
        proc = self._procs["kube-apiserver"]
        with self.api_client() as api:
            core = k8s.CoreV1Api(api)

            def exist() -> bool:
                try:
                    names = {ns.metadata.name for ns in core.list_namespace().items if ns.metadata}
                except (ApiException, OSError):
                    return False
                return {"default", "kube-system"} <= names

            return _wait_ready(
                proc, exist, "namespaces default and kube-system", self.ready_timeout
            )

    def _start_controller_manager(self) -> float:
        """Garbage collector and namespace controllers only; no port, no leader election."""
        log_start = len(self.log_text("kube-controller-manager"))
        proc = self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--controllers={CONTROLLERS}",
            ],
        )

        def synced() -> bool:
            return _GC_SYNCED_MARKER in self.log_text("kube-controller-manager")[log_start:]

        return _wait_ready(proc, synced, "the garbage collector to sync", self.ready_timeout)

    def log_text(self, name: str) -> str:
        """The full log of a component (for assertions and debugging)."""
        try:
            return (self._dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------- external clusters


class ExternalCluster:
    """An existing cluster (e.g. kind) given by ``pytest --kubeconfig PATH``.

    Same attributes as ControlPlane where they make sense; it cannot restart its apiserver
    and ``admin_token``/``ca_file`` are None when the kubeconfig does not use them.
    """

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig.resolve()
        if not self.kubeconfig.is_file():
            raise ControlPlaneError(f"--kubeconfig {kubeconfig} does not exist")
        cfg = k8s.Configuration()
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=cfg, persist_config=False
        )
        self._configuration = cfg
        self.server = str(cfg.host)
        self.ca_file = Path(cfg.ssl_ca_cert) if cfg.ssl_ca_cert else None
        bearer = str(cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken") or "")
        self.admin_token = bearer.removeprefix("Bearer ") or None
        on_path = shutil.which("kubectl")
        self.kubectl_path = Path(on_path) if on_path else find_bin_dir() / "kubectl"
        self.bin_dir = self.kubectl_path.parent
        self.startup_seconds = 0.0
        self.timings: dict[str, float] = {}
        with self.api_client() as api:
            self.version = str(k8s.VersionApi(api).get_code().git_version)

    def api_client(self, token: str | None = None) -> k8s.ApiClient:
        """A fresh ApiClient with the kubeconfig's credentials, or with ``token``."""
        if token is not None:
            return api_client_for(self.server, token, self.ca_file)
        return k8s.ApiClient(self._configuration)

    def service_account_token(
        self, namespace: str, name: str, expiration_seconds: int = 3600
    ) -> str:
        with self.api_client() as api:
            return service_account_token(api, namespace, name, expiration_seconds)

    def token_for(self, user: str, groups: Sequence[str] = ()) -> str:
        sa = _split_sa_user(user)
        if sa is None or groups:
            raise NotImplementedError("an external cluster only issues ServiceAccount tokens")
        return self.service_account_token(*sa)

    def kubeconfig_for_token(self, token: str, path: Path) -> Path:
        return write_kubeconfig(path, self.server, token, self.ca_file)

    def restart_apiserver(self) -> float:
        raise NotImplementedError("cannot restart the API server of an external cluster")


class Kubectl:
    """``kubectl(*args, input=None, check=True)`` with a fixed binary and kubeconfig."""

    def __init__(self, binary: Path, kubeconfig: Path, timeout: float = 120.0) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.timeout = timeout

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=self.timeout
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result


# --------------------------------------------------------------------------- make cluster


class _StopRequestedError(Exception):
    """SIGINT/SIGTERM arrived; unwinds main() into its cleanup."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def _serve(plane: ControlPlane, out: Path) -> int:
    """Print how to use the plane, then wait for a signal or a crashed component."""
    shutil.copyfile(plane.kubeconfig, out)
    out.chmod(0o600)
    pids = " ".join(f"{name}={pid}" for name, pid in plane.pids.items())
    print(f"control plane ready: kube-apiserver {plane.version} at {plane.server}")
    print(f"started in {plane.startup_seconds:.1f}s ({_format_timings(plane.timings)})")
    print(f"kubeconfig: {out}")
    print(f"pids: {pids}")
    print(f"workdir: {plane.workdir}")
    print(f"try: kubectl --kubeconfig {out} get ns    (Ctrl-C stops)", flush=True)
    while True:
        crashed = {n: c for n, c in plane.running().items() if c is not None}
        if crashed:
            name, code = next(iter(crashed.items()))
            print(f"cluster: {name} exited with code {code}", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _format_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total")


def main(argv: Sequence[str] | None = None) -> int:
    """``make cluster``: run the control plane in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.controlplane")
    parser.add_argument("--kubeconfig-out", type=Path, default=Path(".testenv/kubeconfig"))
    parser.add_argument("--bin-dir", type=Path, default=None, help="default: find_bin_dir()")
    args = parser.parse_args(argv)
    out: Path = args.kubeconfig_out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_interrupted)
    plane = ControlPlane(args.bin_dir)
    try:
        plane.start()
        return _serve(plane, out)
    except _StopRequestedError as exc:
        print(f"cluster: {exc}, stopping", flush=True)
        return 0
    except ControlPlaneError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # let stop() finish; it is bounded
        plane.stop()
        out.unlink(missing_ok=True)
        print("cluster: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())

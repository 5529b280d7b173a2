"""The processes under test: control plane + CRDs, the emulator, and one operator per run.

Everything is a context manager or stopped in ``finally``, so Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support.controlplane import REPO_ROOT, ControlPlane, Kubectl
from tests.support.operator_process import OperatorProcess

from nemo_evaluator_emulator.testing import RunningEmulator, free_port, run_emulator

__all__ = ["BenchOperator", "control_plane_with_crds", "emulator", "snapshot_operator_source"]

_PR_SET_PDEATHSIG = 1
MAX_RECORDED_REQUESTS = 1_000_000  # the whole run must fit: the figures come from this log


def snapshot_operator_source(into: Path) -> Path:
    """Copy ``operator/`` so every run uses the code as it was when the bench started.

    Other work may change the tree during a 10-minute bench; the figures must describe one
    version of the operator.
    """
    target = into / "operator-src"
    shutil.copytree(
        REPO_ROOT / "operator", target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return target


@contextlib.contextmanager
def control_plane_with_crds() -> Iterator[tuple[ControlPlane, Kubectl]]:
    """etcd + kube-apiserver + kube-controller-manager with our CRDs Established."""
    with ControlPlane() as plane:
        kubectl = Kubectl(plane.kubectl_path, plane.kubeconfig)
        kubectl("apply", "-k", str(REPO_ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield plane, kubectl


@contextlib.contextmanager
def emulator(phases: str, log_path: Path) -> Iterator[RunningEmulator]:
    """The NeMo emulator with a request log big enough for the whole run, no access log."""
    with run_emulator(
        "--max-recorded-requests", str(MAX_RECORDED_REQUESTS), "--no-access-log",
        "--log-level", "warning", phase_seconds=phases, log_path=log_path,
    ) as emu:  # fmt: skip
        yield emu


def _die_with_parent() -> Callable[[], None]:
    """preexec_fn: SIGTERM the operator if the bench dies, so a SIGKILLed bench leaks nothing."""
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM), 0, 0, 0)

    return setup


# The only operator settings the bench chooses; OperatorProcess's test settings (shorter
# timeouts, backoffs, grace periods) are dropped so the operator runs with its own defaults.
BENCH_SETTINGS = (
    "OPERATOR_POLL_INTERVAL",
    "OPERATOR_WATCH_NAMESPACES",
    "OPERATOR_METRICS_PORT",
    "OPERATOR_LIVENESS_ENDPOINT",
)


class BenchOperator(OperatorProcess):
    """The operator as in production: INFO logging (no ``--verbose``) and default settings
    except the poll interval, the watched namespace, the liveness and metrics ports."""

    def __init__(
        self,
        kubeconfig: Path,
        evaluator_url: str,
        log_dir: Path,
        env: dict[str, str],
        source_root: Path | None = None,
    ) -> None:
        self.metrics_port = free_port()
        self.source_root = source_root
        super().__init__(
            kubeconfig,
            evaluator_url,
            log_dir,
            {**env, "OPERATOR_METRICS_PORT": str(self.metrics_port)},
        )

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("operator not started")
        return self.proc.pid

    def _env(self) -> dict[str, str]:
        env = super()._env()
        for name in [k for k in env if k.startswith("OPERATOR_")]:
            if name not in BENCH_SETTINGS and name not in self.extra_env:
                del env[name]
        if self.source_root is not None:  # ahead of the work tree and the editable install
            env["PYTHONPATH"] = os.pathsep.join([str(self.source_root), env["PYTHONPATH"]])
        return env

    cli_args = ()  # INFO logging, as in a Pod

    def _preexec(self) -> Callable[[], None]:
        return _die_with_parent()

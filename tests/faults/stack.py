"""An isolated emulator + operator pair watching one namespace, for suites that break things.

Why: the fault and bad-input suites kill, restart and flood their own NeMo emulator and
operator; running them against the shared e2e operator would disturb tests/e2e. Each stack's
operator watches only its namespace (OPERATOR_WATCH_NAMESPACES), so it never touches anyone
else's objects. (The e2e operator watches every namespace, but its fixture is package-scoped:
it is gone before these suites run.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator
from tests.e2e.helpers import GROUP, PLURALS, VERSION, Cluster
from tests.support.controlplane import Kubectl
from tests.support.operator_process import OperatorProcess

__all__ = ["Stack", "delete_all", "list_objects", "run_stack"]

CLEANUP_SECONDS = 20.0


@dataclass
class Stack:
    """One namespace with its own emulator and operator processes."""

    cluster: Cluster
    emulator: RunningEmulator
    operator: OperatorProcess

    @property
    def namespace(self) -> str:
        return self.cluster.namespace


@contextlib.contextmanager
def run_stack(
    api: k8s.ApiClient,
    kubectl: Kubectl,
    kubeconfig: Path,
    namespace: str,
    workdir: Path,
    *,
    phases: str,
    seed: int = 7,
    operator_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """Start an emulator (persisting to `workdir/state`) and an operator for `namespace`."""
    env = {"OPERATOR_WATCH_NAMESPACES": namespace, **(operator_env or {})}
    with run_emulator(
        "--seed",
        str(seed),
        phase_seconds=phases,
        state_dir=workdir / "state",
        log_path=workdir / "emulator.log",
    ) as emulator:
        operator = OperatorProcess(kubeconfig, emulator.base_url, workdir, env=env)
        operator.start()
        stack = Stack(Cluster(api, kubectl, namespace), emulator, operator)
        try:
            yield stack
        finally:
            _teardown(stack)


def _teardown(stack: Stack) -> None:
    """Let a live operator run the finalizers, so the namespace can be deleted afterwards."""
    with contextlib.suppress(Exception):
        stack.emulator.control.clear_faults()
        stack.emulator.control.end_outage()
    if not stack.emulator.control.healthy():
        with contextlib.suppress(Exception):
            stack.emulator.start()
    if not stack.operator.running:
        with contextlib.suppress(Exception):
            stack.operator.start()
    with contextlib.suppress(Exception):
        delete_all(stack.cluster)
    stack.operator.stop()


def delete_all(cluster: Cluster, timeout: float = CLEANUP_SECONDS) -> None:
    """Delete every Benchmark and EvalJob; strip finalizers from any left after `timeout`."""
    for plural in PLURALS.values():
        with contextlib.suppress(ApiException):
            cluster.custom.delete_collection_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, plural
            )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _remaining(cluster):
        time.sleep(0.5)
    for plural, name in _remaining(cluster):
        with contextlib.suppress(ApiException):
            cluster.custom.patch_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, plural, name, {"metadata": {"finalizers": None}}
            )


def list_objects(cluster: Cluster, plural: str) -> list[dict[str, Any]]:
    """Every object of one of our kinds (by plural) in the cluster's namespace."""
    listed = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, cluster.namespace, plural)
    return cast(dict[str, list[dict[str, Any]]], listed)["items"]


def _remaining(cluster: Cluster) -> list[tuple[str, str]]:
    found = []
    for plural in PLURALS.values():
        items = list_objects(cluster, plural)
        found += [(plural, item["metadata"]["name"]) for item in items]
    return found

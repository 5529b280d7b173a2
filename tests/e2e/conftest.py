"""Fixtures for end-to-end tests: the emulator and the operator as separate processes.

The operator authenticates with a ServiceAccount token bound to exactly the RBAC rules in
deploy/, so every end-to-end test also proves those rules are enough (and a rule removed
from deploy/ shows up here as a Forbidden error).

The same tests run against kind (or any cluster) with `pytest tests/e2e --kubeconfig PATH`:
only the control plane changes; the emulator and the operator still run as local processes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator
from tests.deploy.rbac import install_rbac, uninstall_rbac
from tests.support.controlplane import Kubectl
from tests.support.operator_process import OperatorProcess, rbac_denials

from .helpers import Cluster

ClusterHandle = Any  # ControlPlane or ExternalCluster (both mint ServiceAccount tokens)
PHASES = "created=0.2,pending=0.5,running=3,cancelling=0.5"


@pytest.fixture(scope="package")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator process for the session, persisting state so it can be restarted."""
    base = tmp_path_factory.mktemp("emulator")
    with run_emulator(
        phase_seconds=PHASES, state_dir=base / "state", log_path=base / "emulator.log"
    ) as emu:
        yield emu


@pytest.fixture(scope="package")
def operator_kubeconfig(
    control_plane: ClusterHandle, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A kubeconfig for the deploy/ ServiceAccount, with only deploy/'s RBAC rules."""
    namespace = f"operator-{secrets.token_hex(3)}"
    kubectl("create", "namespace", namespace)
    account = install_rbac(kubectl, namespace)
    token = control_plane.service_account_token(namespace, account, expiration_seconds=6 * 3600)
    path = control_plane.kubeconfig_for_token(
        token, tmp_path_factory.mktemp("rbac") / "operator.kubeconfig"
    )
    yield path
    uninstall_rbac(kubectl, namespace)
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="package")
def operator(
    operator_kubeconfig: Path,
    crds: list[str],
    emulator: RunningEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """The operator as a separate process under deploy/'s RBAC, polling every second."""
    assert crds, "the CRDs must be installed before the operator starts"
    process = OperatorProcess(
        operator_kubeconfig, emulator.base_url, tmp_path_factory.mktemp("operator")
    )
    process.start()
    yield process
    process.stop()
    forbidden = rbac_denials(process)
    assert not forbidden, "the operator hit RBAC denials:\n" + "\n".join(forbidden[:20])


@pytest.fixture
def cluster(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    namespace: str,
    operator: OperatorProcess,
    emulator: RunningEmulator,
) -> Iterator[Cluster]:
    """A fresh namespace with a live operator; faults cleared and the operator alive after."""
    emulator.control.clear_faults()
    emulator.control.end_outage()
    yield Cluster(kube_api, kubectl, namespace)
    emulator.control.clear_faults()
    emulator.control.end_outage()
    if not emulator.control.healthy():
        emulator.restart()
    if not operator.running:
        operator.start()

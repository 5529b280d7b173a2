"""Fixtures for end-to-end tests: the emulator and the operator as separate processes.

The same tests run against kind (or any cluster) with `pytest tests/e2e --kubeconfig PATH`:
only the control plane changes; the emulator and the operator still run as local processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator
from tests.support.controlplane import Kubectl
from tests.support.operator_process import OperatorProcess

from .helpers import Cluster

PHASES = "created=0.2,pending=0.5,running=3,cancelling=0.5"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator process for the session, persisting state so it can be restarted."""
    base = tmp_path_factory.mktemp("emulator")
    with run_emulator(
        phase_seconds=PHASES, state_dir=base / "state", log_path=base / "emulator.log"
    ) as emu:
        yield emu


@pytest.fixture(scope="session")
def operator(
    kubeconfig: Path,
    crds: list[str],
    emulator: RunningEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """The operator as a separate process, polling every second."""
    assert crds, "the CRDs must be installed before the operator starts"
    process = OperatorProcess(kubeconfig, emulator.base_url, tmp_path_factory.mktemp("operator"))
    process.start()
    yield process
    process.stop()


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

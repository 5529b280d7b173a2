"""Fixtures for the tests against the real NeMo Helix: a fault proxy in front of it, and the
operator as a separate process pointed at the proxy (under deploy/'s RBAC, like tests/e2e).

The proxy is transparent unless a test adds faults, and its request log is how the tests count
what the operator asked of Helix (e.g. POSTs that created a job).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from fault_proxy.testing import RunningFaultProxy, run_fault_proxy
from openai_table_server.testing import RunningModelServer
from tests.e2e.backends import HelixBackend
from tests.e2e.conftest import operator_kubeconfig
from tests.e2e.helpers import Cluster
from tests.support.controlplane import Kubectl
from tests.support.helix import HelixServer
from tests.support.operator_process import OperatorProcess, rbac_denials

__all__ = ["backend", "helix_operator", "helix_proxy", "hx", "operator_kubeconfig"]


@pytest.fixture(scope="package")
def helix_proxy(
    helix: HelixServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFaultProxy]:
    log = tmp_path_factory.mktemp("fault-proxy") / "proxy.log"
    with run_fault_proxy(helix.base_url, "--no-access-log", log_bodies=True, log_path=log) as proxy:
        yield proxy


@pytest.fixture(scope="package")
def helix_operator(
    operator_kubeconfig: Path,
    crds: list[str],
    helix_proxy: RunningFaultProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """The operator, told nothing about the API: it must probe and find Helix (`auto`)."""
    assert crds
    process = OperatorProcess(
        operator_kubeconfig,
        helix_proxy.base_url,
        tmp_path_factory.mktemp("operator"),
        # Every Helix list carries whole job specs: poll every 2 s, not 1, to leave the two
        # cores to the job processes.
        env={
            "OPERATOR_DELETE_BUDGET_SECONDS": "120",
            "OPERATOR_REQUEST_TIMEOUT": "10",
            "OPERATOR_POLL_INTERVAL": "2",
        },
    )
    process.start()
    yield process
    process.stop()
    denials = rbac_denials(process)
    assert not denials, "the operator hit RBAC denials:\n" + "\n".join(denials[:20])


@pytest.fixture
def backend(
    helix: HelixServer, helix_proxy: RunningFaultProxy, model_server: RunningModelServer
) -> Iterator[HelixBackend]:
    backend = HelixBackend(helix, helix_proxy, model_server)
    backend.reset()
    yield backend
    backend.reset()


@pytest.fixture
def hx(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    namespace: str,
    helix_operator: OperatorProcess,
    backend: HelixBackend,
) -> Iterator[Cluster]:
    """A fresh namespace (and Helix workspace of the same name) with a live operator."""
    yield Cluster(kube_api, kubectl, namespace)
    if not helix_operator.running:
        helix_operator.start()

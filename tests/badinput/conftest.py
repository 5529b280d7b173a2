"""Fixtures for the bad-input suite: one namespace, emulator and operator per test module.

The whole module shares one operator so the suite can check, at the end, that this one process
lived through every hostile manifest (never restarted, no Traceback) and that nothing it
manages keeps changing once settled.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.e2e.helpers import CUSTOM_CONFIG, benchmark_manifest
from tests.faults.stack import Stack, run_stack
from tests.support.controlplane import Kubectl

__all__ = ["GOOD_BENCHMARK", "bad_namespace", "stack"]

GOOD_BENCHMARK = "good"  # every EvalJob case that needs a Ready Benchmark refers to this one
PHASES = "created=0.2,pending=0.3,running=1,cancelling=0.3"
OPERATOR_ENV = {
    "OPERATOR_REQUEST_TIMEOUT": "5",
    "OPERATOR_POLL_INTERVAL": "1",
    "OPERATOR_DRIFT_INTERVAL": "2",
    # Waiting EvalJobs stay Reconciling=True for the whole module (their steady state).
    "OPERATOR_DEPENDENCY_GRACE_SECONDS": "600",
}


@pytest.fixture(scope="module")
def bad_namespace(kube_api: k8s.ApiClient) -> Iterator[str]:
    """A namespace for one test module (the shared `namespace` fixture is per test)."""
    name = f"t-{secrets.token_hex(4)}"
    core = k8s.CoreV1Api(kube_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(ApiException):
        core.delete_namespace(name)


@pytest.fixture(scope="module")
def stack(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    kubeconfig: Path,
    crds: list[str],
    bad_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """This module's emulator and operator, with a Ready Benchmark named `good`."""
    assert crds, "the CRDs must be installed before the operator starts"
    workdir = tmp_path_factory.mktemp("badinput")
    with run_stack(
        kube_api,
        kubectl,
        kubeconfig,
        bad_namespace,
        workdir,
        phases=PHASES,
        operator_env=OPERATOR_ENV,
    ) as running:
        running.cluster.apply(benchmark_manifest(GOOD_BENCHMARK, CUSTOM_CONFIG))
        running.cluster.wait_condition("Benchmark", GOOD_BENCHMARK, "Ready", timeout=30)
        yield running

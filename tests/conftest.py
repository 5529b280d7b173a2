"""Shared fixtures: a real Kubernetes control plane (or an external cluster) for the whole suite.

Why: tests that touch the Kubernetes API run against a real kube-apiserver, started once per
session. ``pytest --kubeconfig PATH`` runs the same tests against an existing cluster (kind).
When the binaries are missing the fixture *fails* the tests (never skips), so a green run
always means the real API server ran.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.controlplane import (
    REPO_ROOT,
    ControlPlane,
    ControlPlaneError,
    ExternalCluster,
    Kubectl,
    find_bin_dir,
)

pytest_plugins = ["tests.helix_fixtures"]

__all__ = [
    "control_plane",
    "crds",
    "kube_api",
    "kubeconfig",
    "kubectl",
    "namespace",
    "pytest_addoption",
    "pytest_report_header",
    "pytest_terminal_summary",
]

Cluster = ControlPlane | ExternalCluster
_SUMMARY = pytest.StashKey[str]()
CRD_ESTABLISHED_TIMEOUT = "60s"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kubeconfig",
        default=None,
        metavar="PATH",
        help="run against an existing cluster (e.g. kind) instead of the local control plane",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which cluster the run will use, before anything starts."""
    external = config.getoption("--kubeconfig")
    if external:
        return [f"cluster: external, kubeconfig {external}"]
    bin_dir = find_bin_dir()
    try:
        built = (bin_dir / "VERSION").read_text().strip()
    except OSError:
        built = "no VERSION file; run `make testbin`"
    return [f"cluster: local control plane from {bin_dir} ({built})"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat at the end what served the run, so a CI log shows the real apiserver ran."""
    summary = terminalreporter.config.stash.get(_SUMMARY, None)
    if summary:
        terminalreporter.write_line(summary)


def _announce(config: pytest.Config, text: str) -> None:
    """Write a line to the terminal from inside a fixture, past output capturing."""
    config.stash[_SUMMARY] = text
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    disabled = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with disabled:
        reporter.write("\n")  # progress dots may precede us on the current line
        reporter.write_line(text)


def _describe(cluster: Cluster) -> str:
    if isinstance(cluster, ExternalCluster):
        return f"cluster: external kube-apiserver {cluster.version} at {cluster.server}"
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in cluster.timings.items() if k != "total")
    return (
        f"cluster: kube-apiserver {cluster.version} at {cluster.server}, "
        f"started in {cluster.startup_seconds:.1f}s ({steps})"
    )


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The running cluster; sets KUBECONFIG for in-process clients such as kopf."""
    external = request.config.getoption("--kubeconfig")
    cluster: Cluster
    try:
        cluster = ExternalCluster(Path(external)) if external else ControlPlane().start()
    except ControlPlaneError as exc:
        pytest.fail(f"control plane: {exc}", pytrace=False)
    _announce(request.config, _describe(cluster))
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
        if isinstance(cluster, ControlPlane):
            cluster.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: Cluster) -> Path:
    """Path of the admin kubeconfig."""
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def kube_api(control_plane: Cluster) -> Iterator[k8s.ApiClient]:
    """An admin ``kubernetes.client.ApiClient``."""
    with control_plane.api_client() as api:
        yield api


@pytest.fixture(scope="session")
def kubectl(control_plane: Cluster) -> Kubectl:
    """``kubectl(*args, input=None, check=True) -> CompletedProcess[str]`` for the cluster."""
    return Kubectl(control_plane.kubectl_path, control_plane.kubeconfig)


def _crd_names(path: Path) -> list[str]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return [d["metadata"]["name"] for d in docs if d.get("kind") == "CustomResourceDefinition"]


@pytest.fixture(scope="session")
def crds(control_plane: Cluster, kubectl: Kubectl) -> list[str]:
    """Apply every ``crds/*.yaml`` once per session and wait until each is Established.

    On the local plane it then restarts kube-controller-manager, so garbage collection of
    objects owned by these kinds works at once instead of after the collector's 30 s resync.
    """
    files = {path: _crd_names(path) for path in sorted((REPO_ROOT / "crds").glob("*.yaml"))}
    files = {path: names for path, names in files.items() if names}
    if not files:
        return []
    file_args = [arg for path in files for arg in ("-f", str(path))]
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=pytest", *file_args)
    names = [name for names in files.values() for name in names]
    kubectl(
        "wait",
        "--for=condition=Established",
        f"--timeout={CRD_ESTABLISHED_TIMEOUT}",
        *(f"crd/{name}" for name in names),
    )
    if isinstance(control_plane, ControlPlane) and control_plane.controller_manager:
        control_plane.restart_controller_manager()
    return names


@pytest.fixture
def namespace(kube_api: k8s.ApiClient) -> Iterator[str]:
    """A fresh namespace ``t-<8 hex>``, deleted (without waiting) after the test."""
    name = f"t-{secrets.token_hex(4)}"
    core = k8s.CoreV1Api(kube_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(ApiException):
        core.delete_namespace(name)

"""Tests of the control-plane harness itself: failures are loud, nothing is left behind.

Why: a harness that hangs, skips or leaks etcd/kube-apiserver processes would make every
other test untrustworthy, and `make cluster` must stop cleanly on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.support.controlplane import (
    REPO_ROOT,
    ControlPlane,
    ControlPlaneError,
    ExternalCluster,
    Kubectl,
    find_bin_dir,
    pid_alive,
    remove_stale_workdirs,
    wait_until,
)

__all__: list[str] = []

CLI_START_TIMEOUT = 120.0


def test_missing_binaries_fail_with_one_line_naming_make_testbin(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError) as info:
        ControlPlane(bin_dir=tmp_path).start()

    message = str(info.value)
    assert "\n" not in message
    assert "run `make testbin`" in message
    assert "kube-apiserver" in message
    assert str(tmp_path) in message


def test_kubebuilder_assets_overrides_testbin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert find_bin_dir() == tmp_path
    monkeypatch.delenv("KUBEBUILDER_ASSETS")
    assert find_bin_dir() == REPO_ROOT / ".testbin"


@pytest.mark.controlplane
def test_failed_start_reports_the_log_tail_and_cleans_up() -> None:
    plane = ControlPlane(controller_manager=False, extra_apiserver_args=["--no-such-flag"])
    started = time.monotonic()

    with pytest.raises(ControlPlaneError) as info:
        plane.start()

    assert time.monotonic() - started < 30  # an early exit is noticed, not waited out
    first_line, _, tail = str(info.value).partition("\n")
    assert first_line.startswith("kube-apiserver exited with code")
    assert "unknown flag: --no-such-flag" in tail
    assert plane.pids
    assert not any(pid_alive(pid) for pid in plane.pids.values())
    assert plane.workdir is not None
    assert not plane.workdir.exists()


@pytest.mark.controlplane
def test_two_planes_run_at_once_and_stop_leaves_no_processes(
    control_plane: ControlPlane | ExternalCluster, kube_api: k8s.ApiClient
) -> None:
    other = ControlPlane(controller_manager=False).start()
    try:
        assert other.server != control_plane.server
        with other.api_client() as api:
            k8s.CoreV1Api(api).create_namespace({"metadata": {"name": "only-in-other"}})
            assert k8s.VersionApi(api).get_code().git_version == other.version
        with pytest.raises(ApiException) as info:  # separate etcd, separate data
            k8s.CoreV1Api(kube_api).read_namespace("only-in-other")
        assert info.value.status == 404
    finally:
        other.stop()

    assert set(other.pids) == {"etcd", "kube-apiserver"}
    assert not any(pid_alive(pid) for pid in other.pids.values())
    assert other.workdir is not None
    assert not other.workdir.exists()


@pytest.mark.controlplane
def test_restart_apiserver_keeps_data(
    control_plane: ControlPlane | ExternalCluster, kube_api: k8s.ApiClient, namespace: str
) -> None:
    if not isinstance(control_plane, ControlPlane):
        pytest.skip("an external cluster's apiserver cannot be restarted")
    core = k8s.CoreV1Api(kube_api)
    uid = core.create_namespaced_config_map(namespace, {"metadata": {"name": "kept"}}).metadata.uid
    before = control_plane.pids["kube-apiserver"]

    seconds = control_plane.restart_apiserver()

    assert seconds < 90
    assert control_plane.pids["kube-apiserver"] != before
    assert not pid_alive(before)
    assert core.read_namespaced_config_map("kept", namespace).metadata.uid == uid


@pytest.mark.controlplane
def test_token_for_authenticates_users_and_service_accounts(
    control_plane: ControlPlane | ExternalCluster, namespace: str, tmp_path: Path
) -> None:
    if not isinstance(control_plane, ControlPlane):
        pytest.skip("an external cluster cannot add static tokens")
    alice = control_plane.token_for("alice", ["devs", "qa"])
    pid = control_plane.pids["kube-apiserver"]
    assert control_plane.token_for("alice", ["devs", "qa"]) == alice  # cached, no restart
    assert control_plane.pids["kube-apiserver"] == pid
    bot = control_plane.token_for(f"system:serviceaccount:{namespace}:bot")

    user, groups = _whoami(control_plane, alice, tmp_path / "alice")
    assert user == "alice"
    assert {"devs", "qa", "system:authenticated"} <= set(groups)
    user, groups = _whoami(control_plane, bot, tmp_path / "bot")
    assert user == f"system:serviceaccount:{namespace}:bot"
    assert f"system:serviceaccounts:{namespace}" in groups


def _whoami(plane: ControlPlane, token: str, path: Path) -> tuple[str, list[str]]:
    plane.kubeconfig_for_token(token, path)
    with k8s_config.new_client_from_config(config_file=str(path)) as api:
        info = k8s.AuthenticationV1Api(api).create_self_subject_review({}).status.user_info
    return str(info.username), list(info.groups)


@pytest.mark.controlplane
def test_crds_fixture_installs_every_crd_in_the_crds_folder(
    crds: list[str], kubectl: Kubectl
) -> None:
    expected = []
    for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        expected += [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]

    assert crds == expected
    for name in crds:
        established = kubectl(
            "get",
            f"crd/{name}",
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Established')].status}",
        )
        assert established.stdout == "True"


# --------------------------------------------------------------------------- make cluster


class Owner:
    """A Python process that owns a control plane (e.g. `make cluster`), read line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_ready(self) -> dict[str, str]:
        """Read until the 'try:' line; return the 'key: value' lines printed before it."""
        deadline = time.monotonic() + CLI_START_TIMEOUT
        while not self.output or not self.output[-1].startswith("try:"):
            try:
                self.output.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"make cluster not ready in time; output: {self.output}")
        return dict(line.split(": ", 1) for line in self.output if ": " in line)

    def rest(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "\n".join(self.output)


def _reap(owner: Owner) -> None:
    if owner.proc.poll() is None:
        owner.proc.kill()
        owner.proc.wait()


@pytest.fixture
def cluster_cli(tmp_path: Path) -> Iterator[Owner]:
    """`make cluster`'s command, writing its kubeconfig to ``tmp_path / "kubeconfig"``."""
    owner = Owner(
        "-m", "tests.support.controlplane", "--kubeconfig-out", str(tmp_path / "kubeconfig")
    )
    yield owner
    _reap(owner)


OWNER_SCRIPT = """
import time
from tests.support.controlplane import ControlPlane
plane = ControlPlane(controller_manager=False).start()
print("pids:", " ".join(f"{k}={v}" for k, v in plane.pids.items()))
print("workdir:", plane.workdir)
print("try: ready", flush=True)
time.sleep(600)
"""


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("signum", "returncode"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT)],
    ids=["SIGTERM", "SIGINT"],
)
def test_interrupted_owner_stops_its_plane(signum: int, returncode: int) -> None:
    owner = Owner("-c", OWNER_SCRIPT)
    try:
        info = owner.wait_ready()
        owner.proc.send_signal(signum)
        assert owner.proc.wait(timeout=45) == returncode
    finally:
        _reap(owner)

    assert not any(pid_alive(pid) for pid in _pids(info))
    assert not Path(info["workdir"]).exists()


def _pids(info: dict[str, str]) -> list[int]:
    return [int(item.split("=")[1]) for item in info["pids"].split()]


@pytest.mark.controlplane
def test_make_cluster_serves_kubectl_and_stops_cleanly_on_sigterm(
    cluster_cli: Owner,
) -> None:
    info = cluster_cli.wait_ready()
    pids = _pids(info)
    assert len(pids) == 3
    kubectl = find_bin_dir() / "kubectl"
    result = subprocess.run(
        [str(kubectl), "--kubeconfig", info["kubeconfig"], "get", "ns"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "kube-system" in result.stdout

    cluster_cli.proc.send_signal(signal.SIGTERM)

    assert cluster_cli.proc.wait(timeout=45) == 0
    assert "cluster: stopped" in cluster_cli.rest()
    assert not any(pid_alive(pid) for pid in pids)
    assert not Path(info["workdir"]).exists()
    assert not Path(info["kubeconfig"]).exists()


@pytest.mark.controlplane
def test_sigkilled_owner_takes_its_components_down(cluster_cli: Owner) -> None:
    info = cluster_cli.wait_ready()
    pids = _pids(info)

    os.kill(cluster_cli.proc.pid, signal.SIGKILL)  # no cleanup code can run

    cluster_cli.proc.wait(timeout=10)
    wait_until(
        lambda: not any(pid_alive(pid) for pid in pids),
        timeout=15,
        what="PR_SET_PDEATHSIG to end etcd, kube-apiserver and kube-controller-manager",
    )
    workdir = Path(info["workdir"])
    assert workdir.exists()  # left behind, as a SIGKILL allows no cleanup ...
    assert workdir in remove_stale_workdirs()  # ... and removed by the next start
    assert not workdir.exists()

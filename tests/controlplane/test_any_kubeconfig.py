"""The end-to-end test bodies run against any cluster given with --kubeconfig (kind on a
laptop, for instance), and the kind overlay used by `make e2e-kind` renders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.controlplane import REPO_ROOT, ControlPlane, Kubectl

pytestmark = pytest.mark.controlplane


def test_e2e_bodies_run_against_an_external_kubeconfig(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """A second pytest, told only a kubeconfig, runs a real e2e test against this cluster."""
    if not isinstance(control_plane, ControlPlane):
        pytest.skip("already running against an external cluster")
    kubeconfig = tmp_path / "external.kubeconfig"
    kubeconfig.write_text(control_plane.kubeconfig.read_text())
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/e2e/test_evaljob.py::test_failed_job_reports_nemo_message",
            "--kubeconfig", str(kubeconfig),
        ],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
    assert "cluster: external kube-apiserver" in result.stdout


def test_kind_overlay_points_the_operator_at_the_in_cluster_emulator(kubectl: Kubectl) -> None:
    rendered = kubectl("kustomize", str(REPO_ROOT / "tools" / "kind")).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    images = {
        name: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for name, d in deployments.items()
    }
    assert images == {
        "nemo-evaluator-operator": "nemo-evaluator-operator:e2e",
        "nemo-evaluator-emulator": "nemo-evaluator-emulator:e2e",
    }
    settings = next(
        d for d in docs if d["kind"] == "ConfigMap" and "settings" in d["metadata"]["name"]
    )
    service = next(d for d in docs if d["kind"] == "Service")
    url = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:7331"
    assert settings["data"]["NEMO_EVALUATOR_URL"] == url
    syntax = subprocess.run(["bash", "-n", str(REPO_ROOT / "tools" / "kind-e2e.sh")], check=False)
    assert syntax.returncode == 0

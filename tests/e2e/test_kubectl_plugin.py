"""`kubectl nemo-eval` through the real kubectl (plugin discovery on PATH), on real results.

One namespace and one set of EvalJobs (run concurrently by the package's operator on the
emulator) serve every test here, so the module costs a few seconds of NeMo time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.controlplane import Kubectl
from tests.support.operator_process import OperatorProcess

from .helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest, wait_for

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

BIN = Path(sys.executable).parent
FAILURE = "Error connecting to inference server"


def other_model(name: str) -> dict[str, Any]:
    manifest = evaljob_manifest(name, "qa")
    manifest["spec"]["target"]["model"]["api_endpoint"]["model_id"] = "mistral/mixtral-8x7b"
    return manifest


@pytest.fixture(scope="module")
def board(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    operator: OperatorProcess,
    emulator: RunningEmulator,
) -> Iterator[Cluster]:
    """Benchmarks qa and qa2; EvalJobs a, b (qa), big (split results), other (qa2), bad."""
    namespace = f"plugin-{secrets.token_hex(3)}"
    kubectl("create", "namespace", namespace)
    cluster = Cluster(kube_api, kubectl, namespace)
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    other = {**CUSTOM_CONFIG, "params": {"parallelism": 2, "limit_samples": 10}}
    cluster.apply(benchmark_manifest("qa2", other))
    cluster.wait_condition("Benchmark", "qa", "Ready")
    cluster.wait_condition("Benchmark", "qa2", "Ready")
    emulator.control.set_phase_seconds(running=60)
    try:
        cluster.apply(evaljob_manifest("big", "qa"))
        big = cluster.wait_phase("big", "Running")
    finally:
        emulator.control.set_phase_seconds(running=3)
    emulator.control.fail_next(1, FAILURE)
    cluster.apply(evaljob_manifest("bad", "qa"))
    wait_for(lambda: (cluster.must_get("EvalJob", "bad").get("status") or {}).get("jobId"), 60)
    cluster.apply(evaljob_manifest("a", "qa"))
    cluster.apply(other_model("b"))
    cluster.apply(evaljob_manifest("other", "qa2"))
    emulator.control.set_job_padding(big["status"]["jobId"], 3 * 1024 * 1024)
    emulator.control.force_job(big["status"]["jobId"], "completed")
    for name in ("a", "b", "big", "other"):
        cluster.wait_phase(name, "Succeeded", timeout=90)
    cluster.wait_phase("bad", "Failed", timeout=90)
    yield cluster
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def plugin(
    kubectl: Kubectl, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`kubectl nemo-eval ARGS`: kubectl finds kubectl-nemo_eval on PATH and runs it."""
    assert (BIN / "kubectl-nemo_eval").exists(), "run `make venv`: the plugin is not installed"
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    full["KUBECONFIG"] = str(kubectl.kubeconfig)
    full.update(env or {})
    return subprocess.run(
        [str(kubectl.binary), "nemo-eval", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
    )


def test_kubectl_discovers_the_plugin(kubectl: Kubectl) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin"}
    listed = subprocess.run(
        [str(kubectl.binary), "plugin", "list"], capture_output=True, text=True, env=env
    )
    assert str(BIN / "kubectl-nemo_eval") in listed.stdout


def test_results_reassembles_split_configmaps(board: Cluster, kubectl: Kubectl) -> None:
    ref = board.must_get("EvalJob", "big")["status"]["resultsRef"]
    assert len(ref["parts"]) >= 4
    shown = plugin(kubectl, "results", "big", "-n", board.namespace, "--json")
    assert shown.returncode == 0, shown.stderr
    assert hashlib.sha256(shown.stdout.rstrip("\n").encode()).hexdigest() == ref["sha256"]
    table = plugin(kubectl, "-n", board.namespace, "results", "big")
    assert table.returncode == 0, table.stderr
    assert "verified" in table.stdout
    assert "qa.bleu" in table.stdout
    summary = plugin(kubectl, "results", "a", "-n", board.namespace, "--summary")
    assert summary.stdout.startswith("NeMo")


def test_results_refuse_a_tampered_or_missing_part(board: Cluster, kubectl: Kubectl) -> None:
    ref = board.must_get("EvalJob", "big")["status"]["resultsRef"]
    name = ref["parts"][1]
    original = board.config_map(name)
    assert original is not None
    text = original.data["results.json.part"]
    board.core.patch_namespaced_config_map(
        name, board.namespace, {"data": {"results.json.part": text.replace("a", "b", 1)}}
    )
    try:
        tampered = plugin(kubectl, "results", "big", "-n", board.namespace)
        assert tampered.returncode == 1
        assert "SHA-256" in tampered.stderr
        assert "Traceback" not in tampered.stderr
        assert len(tampered.stderr.strip().splitlines()) == 1
        board.core.delete_namespaced_config_map(name, board.namespace)
        missing = plugin(kubectl, "results", "big", "-n", board.namespace)
        assert missing.returncode == 1
        assert f'"{name}"' in missing.stderr
        assert "missing" in missing.stderr
    finally:  # put the part back as the operator wrote it (it is not rewritten)
        if board.config_map(name) is None:
            body = {"metadata": {"name": name}, "data": original.data}
            board.core.create_namespaced_config_map(board.namespace, body)
        else:
            board.core.patch_namespaced_config_map(name, board.namespace, {"data": original.data})
    assert plugin(kubectl, "results", "big", "-n", board.namespace).returncode == 0


def test_compare_shows_deltas_and_refuses_other_configs(board: Cluster, kubectl: Kubectl) -> None:
    shown = plugin(kubectl, "compare", "a", "b", "-n", board.namespace)
    assert shown.returncode == 0, shown.stderr
    a = board.must_get("EvalJob", "a")["status"]["scores"]
    b = board.must_get("EvalJob", "b")["status"]["scores"]
    metric = next(iter(a))
    row = next(line for line in shown.stdout.splitlines() if line.startswith(metric + " "))
    assert row.split()[-1] == f"{round(b[metric] - a[metric], 9):+.6g}"
    refused = plugin(kubectl, "compare", "a", "other", "-n", board.namespace)
    assert refused.returncode == 1
    assert "different Benchmark configs" in refused.stderr
    assert "--force" in refused.stderr
    forced = plugin(kubectl, "compare", "a", "other", "--force", "-n", board.namespace)
    assert forced.returncode == 0
    assert "warning:" in forced.stderr


def test_rerun_creates_an_evaljob_that_runs(board: Cluster, kubectl: Kubectl) -> None:
    made = plugin(kubectl, "rerun", "a", "--name", "a-again", "-n", board.namespace)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "a-again"
    again = board.wait_phase("a-again", "Succeeded", timeout=90)
    first = board.must_get("EvalJob", "a")
    assert again["spec"] == first["spec"]
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert again["status"]["jobId"] != first["status"]["jobId"]
    assert again["metadata"]["annotations"]["evaluator.nemo.dev/rerun-of"] == "a"
    twice = plugin(kubectl, "rerun", "a", "--name", "a-again", "-n", board.namespace)
    assert twice.returncode == 1
    assert "already exists" in twice.stderr


def test_why_shows_the_failure_and_events(board: Cluster, kubectl: Kubectl) -> None:
    shown = plugin(kubectl, "why", "bad", "-n", board.namespace)
    assert shown.returncode == 0, shown.stderr
    assert "Failed" in shown.stdout.splitlines()[0]
    assert FAILURE in shown.stdout
    events = shown.stdout.split("EVENTS", 1)[1]
    assert "Warning" in events
    assert "Failed" in events


def test_leaderboard_ranks_current_runs(board: Cluster, kubectl: Kubectl) -> None:
    shown = plugin(kubectl, "leaderboard", "qa", "-n", board.namespace)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()[2:]]
    models = [row[1] for row in rows]
    assert sorted(models) == ["meta/llama-3.1-8b-instruct", "mistral/mixtral-8x7b"]
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_expected_errors_are_one_line(board: Cluster, kubectl: Kubectl, tmp_path: Path) -> None:
    gone = plugin(kubectl, "why", "nope", "-n", board.namespace)
    assert gone.returncode == 1
    assert (
        gone.stderr.strip() == f'error: EvalJob "nope" not found in namespace "{board.namespace}"'
    )
    closed = tmp_path / "closed.kubeconfig"
    closed.write_text(
        kubectl.kubeconfig.read_text().replace("server: https://", "server: https://127.0.0.1:1#")
    )
    unreachable = plugin(kubectl, "results", "a", env={"KUBECONFIG": str(closed)})
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("error: cannot reach the API server")
    assert len(unreachable.stderr.strip().splitlines()) == 1


def test_namespace_and_context_come_from_the_kubeconfig(
    board: Cluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    real = config["contexts"][0]
    real["context"]["namespace"] = board.namespace
    config["contexts"].append(
        {"name": "elsewhere", "context": {**real["context"], "namespace": "x"}}
    )
    config["current-context"] = "elsewhere"
    path = tmp_path / "two-contexts.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    chosen = plugin(kubectl, "why", "bad", "--kubeconfig", str(path), "--context", real["name"])
    assert chosen.returncode == 0, chosen.stderr
    assert f"EvalJob {board.namespace}/bad" in chosen.stdout
    current = plugin(kubectl, "why", "bad", "--kubeconfig", str(path))
    assert current.returncode == 1
    assert 'not found in namespace "x"' in current.stderr

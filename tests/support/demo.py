"""`make demo`: a local control plane, NVIDIA's NeMo Helix, a model server and the operator.

By default (`--api helix`) it runs real evaluations: NeMo Helix 0.8.1 (the same server the
tests use) scores three models of our table model server on deploy/samples/helix/ (a
5-question Benchmark, three EvalJobs, one with a quality gate and an API key), then prints
`kubectl get bm,ej`, each model's scores and each results summary, and stops everything.
A second round (deploy/samples/helix/baseline/) gates two more EvalJobs on the first round's
runs as baselines, one passing and one failing; the Benchmark's leaderboard is printed last.
`--api v1` runs deploy/samples/ against the NeMo Microservices v1 emulator instead (synthetic
scores). `--keep` leaves the stack running until Ctrl-C, with the kubeconfig at
.demo/kubeconfig so `kubectl --kubeconfig .demo/kubeconfig ...` works.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from nemo_evaluator_emulator.testing import run_emulator
from nemo_evaluator_operator.models import LeaderboardOrder
from nemo_evaluator_operator.reconcile.leaderboard import rank
from nemo_evaluator_operator.reconcile.runs import run_record
from openai_table_server.testing import run_model_server
from tests.support.controlplane import REPO_ROOT, ControlPlane, Kubectl
from tests.support.helix import HelixServer, demo_table
from tests.support.operator_process import OperatorProcess

__all__ = ["main"]

NAMESPACE = "demo"
STATE = REPO_ROOT / ".demo"
SAMPLES = REPO_ROOT / "deploy" / "samples"
SAMPLE_MODEL_URL = "http://127.0.0.1:18999/v1/chat/completions"
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


@contextlib.contextmanager
def control_plane() -> Iterator[tuple[ControlPlane, Kubectl]]:
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)
    with ControlPlane() as plane:
        kubeconfig = STATE / "kubeconfig"
        shutil.copy(plane.kubeconfig, kubeconfig)
        kubectl = Kubectl(plane.kubectl_path, kubeconfig)
        say(f"control plane {plane.version} ready at {plane.server}")
        kubectl("apply", "-k", str(REPO_ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield plane, kubectl


@contextlib.contextmanager
def operator(url: str, poll: float) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        STATE / "kubeconfig", url, STATE, env={"OPERATOR_POLL_INTERVAL": str(poll)}
    )
    process.start()
    say(f"operator running (logs: {process.log_files[-1]})")
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def helix_stack() -> Iterator[str]:
    """NeMo Helix and the table model server; yields the model server's chat URL."""
    helix = HelixServer(STATE / "helix")
    started = time.monotonic()
    with helix:
        took = time.monotonic() - started
        say(f"NeMo Helix {helix.version} ready at {helix.base_url} in {took:.0f}s")
        with run_model_server(demo_table(), log_path=STATE / "model-server.log") as model:
            say(f"model server at {model.base_url} (models good, fair, poor answer from a table)")
            with operator(helix.base_url, poll=2.0):
                yield model.chat_url


@contextlib.contextmanager
def v1_stack() -> Iterator[str]:
    phases = "created=0.5,pending=1,running=6,cancelling=1"
    with run_emulator(phase_seconds=phases, log_path=STATE / "emulator.log") as emulator:
        say(f"NeMo Microservices v1 emulator at {emulator.base_url} (synthetic scores)")
        with operator(emulator.base_url, poll=1.0):
            yield ""


def apply_samples(kubectl: Kubectl, directory: Path, model_url: str) -> None:
    """Apply every sample, the Helix ones pointed at this run's model server."""
    if kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0:
        kubectl("create", "namespace", NAMESPACE)
    docs = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text()
        if model_url:
            text = text.replace(SAMPLE_MODEL_URL, model_url)
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump_all(docs))
    say(f"applied {directory.relative_to(REPO_ROOT)}/ to namespace {NAMESPACE}")


def wait_all_finished(plane: ControlPlane, timeout: float) -> list[dict[str, Any]]:
    custom = k8s.CustomObjectsApi(plane.api_client())
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        items = custom.list_namespaced_custom_object(
            "evaluator.nemo.dev", "v1alpha1", NAMESPACE, "evaljobs"
        )["items"]
        phases = {i["metadata"]["name"]: i.get("status", {}).get("phase", "-") for i in items}
        line = ", ".join(f"{name}={phase}" for name, phase in sorted(phases.items()))
        if line != last:
            say(line)
            last = line
        if items and all(phase in TERMINAL for phase in phases.values()):
            return list(items)
        time.sleep(1)
    raise TimeoutError(f"EvalJobs not finished after {timeout}s: {last}")


def show(kubectl: Kubectl, evaljobs: list[dict[str, Any]]) -> None:
    print(kubectl("get", "bm,ej", "-n", NAMESPACE, "-o", "wide").stdout)
    print("SCORES (status.scores, as NeMo computed them)")
    for item in sorted(evaljobs, key=lambda i: i["metadata"]["name"]):
        status = item.get("status", {})
        scores = json.dumps(status.get("scores") or {}, sort_keys=True)
        print(f"  {item['metadata']['name']:<22} {status.get('model', '-'):<6} {scores}")
    print()
    for item in evaljobs:
        name = item["metadata"]["name"]
        cm = kubectl(
            "get", "configmap", f"{name}-results", "-n", NAMESPACE,
            "-o", "go-template={{index .data \"summary.txt\"}}", check=False,
        )  # fmt: skip
        print(f"--- {name}: ConfigMap {name}-results, summary.txt")
        print(cm.stdout if cm.returncode == 0 else f"(no results: {cm.stderr.strip()})")


def _boards_current(kubectl: Kubectl) -> list[dict[str, Any]] | None:
    """The Benchmarks, once each leaderboard holds the latest Succeeded run of its leader."""
    benchmarks = json.loads(kubectl("get", "bm", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    evaljobs = json.loads(kubectl("get", "ej", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    for bm in benchmarks:
        status = bm.get("status", {})
        runs = [
            run_record(e["metadata"]["uid"], NAMESPACE, e["metadata"]["name"],
                       e["spec"]["benchmarkRef"]["name"], {}, e.get("status", {}))
            for e in evaljobs
            if e["spec"]["benchmarkRef"]["name"] == bm["metadata"]["name"]
        ]  # fmt: skip
        metric = status.get("leaderboardMetric")
        expected = rank(runs, status.get("configHash"), metric, LeaderboardOrder.DESC, 10)
        shown = [row["evalJob"] for row in status.get("leaderboard") or []]
        if metric and shown != [row.eval_job for row in expected]:
            return None
    return benchmarks


def show_leaderboards(kubectl: Kubectl) -> None:
    """Each Benchmark's status.leaderboard, as the operator keeps it (debounced by a second)."""
    deadline = time.monotonic() + 30
    benchmarks = _boards_current(kubectl)
    while benchmarks is None and time.monotonic() < deadline:
        time.sleep(0.5)
        benchmarks = _boards_current(kubectl)
    if benchmarks is None:
        raise TimeoutError("leaderboards not current after 30s")
    for item in benchmarks:
        status = item.get("status", {})
        rows = status.get("leaderboard") or []
        name, metric = item["metadata"]["name"], status.get("leaderboardMetric", "-")
        print(f"LEADERBOARD {name} (status.leaderboard, by {metric})")
        for place, row in enumerate(rows, start=1):
            print(f"  {place}. {row['model']:<36} {row['score']:<10.4g} {row['evalJob']}")
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--api", choices=("helix", "v1"), default="helix", help="evaluator")
    parser.add_argument("--keep", action="store_true", help="keep the stack running until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for EvalJobs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    backend = helix_stack if args.api == "helix" else v1_stack
    samples = SAMPLES / "helix" if args.api == "helix" else SAMPLES
    with control_plane() as (plane, kubectl), backend() as model_url:
        apply_samples(kubectl, samples, model_url)
        wait_all_finished(plane, args.timeout)
        # Round two: EvalJobs gated on the first round's runs as baselines.
        apply_samples(kubectl, samples / "baseline", model_url)
        evaljobs = wait_all_finished(plane, args.timeout)
        show(kubectl, evaljobs)
        show_leaderboards(kubectl)
        say(f"done in {time.monotonic() - started:.0f}s")
        if args.keep:
            hint = f"kubectl --kubeconfig {STATE / 'kubeconfig'} get ej -A"
            say(f"stack kept; try: {hint} (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    say("stopped everything")
    return 0


if __name__ == "__main__":
    sys.exit(main())

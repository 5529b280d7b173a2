"""`make demo`: a local control plane, the NeMo emulator and the operator, running the samples.

Applies deploy/samples/ (two Benchmarks, three EvalJobs, one with a quality gate) into the
namespace `demo`, waits until every EvalJob has finished, prints `kubectl get bm,ej` and each
results summary, then stops everything. `--keep` leaves the stack running until Ctrl-C, with
the kubeconfig at .demo/kubeconfig so `kubectl --kubeconfig .demo/kubeconfig ...` works.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Iterator

from kubernetes import client as k8s

from nemo_evaluator_emulator.testing import run_emulator
from tests.support.controlplane import REPO_ROOT, ControlPlane, Kubectl
from tests.support.operator_process import OperatorProcess

__all__ = ["main"]

NAMESPACE = "demo"
STATE = REPO_ROOT / ".demo"
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


@contextlib.contextmanager
def stack(poll: float) -> Iterator[tuple[ControlPlane, Kubectl, OperatorProcess]]:
    """Control plane → CRDs → emulator → operator; torn down in reverse on exit."""
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)
    with ControlPlane() as plane:
        kubeconfig = STATE / "kubeconfig"
        shutil.copy(plane.kubeconfig, kubeconfig)
        kubectl = Kubectl(plane.kubectl_path, kubeconfig)
        say(f"control plane {plane.version} ready at {plane.server}")
        kubectl("apply", "-k", str(REPO_ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        phases = "created=0.5,pending=1,running=6,cancelling=1"
        with run_emulator(phase_seconds=phases, log_path=STATE / "emulator.log") as emulator:
            say(f"NeMo Evaluator emulator at {emulator.base_url} (synthetic scores)")
            operator = OperatorProcess(
                kubeconfig, emulator.base_url, STATE, env={"OPERATOR_POLL_INTERVAL": str(poll)}
            )
            operator.start()
            say(f"operator running (logs: {operator.log_files[-1]})")
            try:
                yield plane, kubectl, operator
            finally:
                operator.stop()


def apply_samples(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", NAMESPACE)
    kubectl("apply", "-n", NAMESPACE, "-f", str(REPO_ROOT / "deploy" / "samples"))
    say(f"applied deploy/samples/ to namespace {NAMESPACE}")


def wait_all_finished(plane: ControlPlane, timeout: float) -> list[dict[str, object]]:
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


def show(kubectl: Kubectl, evaljobs: list[dict[str, object]]) -> None:
    print(kubectl("get", "bm,ej", "-n", NAMESPACE, "-o", "wide").stdout)
    for item in evaljobs:
        name = item["metadata"]["name"]  # type: ignore[index]
        cm = kubectl(
            "get", "configmap", f"{name}-results", "-n", NAMESPACE,
            "-o", "go-template={{index .data \"summary.txt\"}}", check=False,
        )  # fmt: skip
        print(f"--- {name}: ConfigMap {name}-results, summary.txt")
        print(cm.stdout if cm.returncode == 0 else f"(no results: {cm.stderr.strip()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the stack running until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for EvalJobs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with stack(poll=1.0) as (plane, kubectl, _operator):
        apply_samples(kubectl)
        evaljobs = wait_all_finished(plane, args.timeout)
        show(kubectl, evaljobs)
        say(f"done in {time.monotonic() - started:.0f}s")
        if args.keep:
            hint = f"kubectl --kubeconfig {STATE / 'kubeconfig'} get ej -A"
            say(f"stack kept; try: {hint} (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    say("stopped the operator, the emulator and the control plane")
    return 0


if __name__ == "__main__":
    sys.exit(main())

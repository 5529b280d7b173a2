"""`python -m bench.costs`: what one Benchmark and one EvalJob cost, measured end to end.

One Benchmark from `kubectl apply` to deletion, then one EvalJob from apply to its results
(emulator phases of 1 s each), on the local control plane with the emulator and the operator as
separate processes. NeMo requests come from the emulator's request log, Kubernetes writes from
kube-apiserver's own `apiserver_request_total`, wall time from the test's clock.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest
from tests.support.controlplane import ControlPlane, Kubectl
from tests.support.operator_process import OperatorProcess

from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator

from .probes import apiserver_writes, count_routes, delta, scrape

__all__ = ["main"]

Writes = dict[tuple[str, str, str], float]


def _writes(plane: ControlPlane) -> Writes:
    text = scrape(f"{plane.server}/metrics", plane.admin_token, str(plane.ca_file))
    return apiserver_writes(text)


def _measure(plane: ControlPlane, emu: RunningEmulator, step: Callable[[], None]) -> dict[str, Any]:
    """NeMo requests by route, Kubernetes writes by resource and verb, and seconds for `step`."""
    emu.control.clear_requests()
    before = _writes(plane)
    started = time.monotonic()
    step()
    seconds = time.monotonic() - started
    time.sleep(2)  # let trailing writes (events, finalizer removal) land before counting
    writes = {k: v for k, v in delta(_writes(plane), before).items() if v}
    nemo = count_routes(emu.control.requests())
    kinds = ("core/configmaps", "core/events", "events.k8s.io/events")
    ours = {f"{r} {v} {c}": n for (r, v, c), n in sorted(writes.items()) if "evaluator" in r or
            r in kinds}  # fmt: skip
    return {
        "seconds": round(seconds, 2),
        "nemo_requests": sum(nemo.values()),
        "nemo_by_route": dict(sorted(nemo.items())),
        "kubernetes_writes": sum(ours.values()),
        "note": "writes include the test's own create (POST) and delete (DELETE) of the object",
        "kubernetes_writes_by_resource": ours,
    }


def run() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="nemo-costs-"))
    try:
        with ControlPlane() as plane:
            kubectl = Kubectl(plane.kubectl_path, plane.kubeconfig)
            kubectl("apply", "-k", "crds")
            kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            phases = "created=1,pending=1,running=1,cancelling=1"
            with run_emulator(phase_seconds=phases, log_path=workdir / "emu.log") as emu:
                env = {"OPERATOR_POLL_INTERVAL": "1", "OPERATOR_DRIFT_INTERVAL": "3600"}
                operator = OperatorProcess(plane.kubeconfig, emu.base_url, workdir, env)
                operator.start()
                try:
                    return _scenarios(plane, kubectl, emu)
                finally:
                    operator.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _scenarios(plane: ControlPlane, kubectl: Kubectl, emu: RunningEmulator) -> dict[str, Any]:
    kubectl("create", "namespace", "costs")
    cluster = Cluster(plane.api_client(), kubectl, "costs")

    def benchmark_lifecycle() -> None:
        cluster.apply(benchmark_manifest("bm", CUSTOM_CONFIG))
        cluster.wait_condition("Benchmark", "bm", "Ready", timeout=60)
        cluster.delete("Benchmark", "bm")
        cluster.wait_gone("Benchmark", "bm", timeout=60)

    results: dict[str, Any] = {
        "benchmark_create_to_delete": _measure(plane, emu, benchmark_lifecycle)
    }
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    cluster.wait_condition("Benchmark", "qa", "Ready", timeout=60)

    def evaljob_to_results() -> None:
        cluster.apply(evaljob_manifest("ej", "qa"))
        cluster.wait_phase("ej", "Succeeded", timeout=120)

    results["evaljob_apply_to_results"] = _measure(plane, emu, evaljob_to_results)
    return results


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()

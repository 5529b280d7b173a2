"""One size N, twice: the operator through Kubernetes, then the SDK floor, on the same emulator."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client as k8s
from tests.support.controlplane import ControlPlane

from nemo_evaluator_emulator.settings import PhaseSeconds, parse_phase_seconds
from nemo_evaluator_emulator.testing import RunningEmulator

from .floor import run_floor
from .probes import (
    PollingFigures,
    ProcUsage,
    WriteKey,
    apiserver_writes,
    count_failures,
    count_routes,
    counter_totals,
    delta,
    polling_figures,
    proc_usage,
    scrape,
)
from .stack import BenchOperator
from .workload import (
    GROUP,
    VERSION,
    EvalJobWatch,
    benchmark_manifest,
    create_evaljobs,
    wait_benchmark_ready,
)

__all__ = [
    "MIB",
    "FloorFigures",
    "OperatorFigures",
    "Params",
    "SizeFigures",
    "Snapshot",
    "active_seconds",
    "prepare_namespace",
    "run_floor_case",
    "run_operator_case",
    "say",
    "snapshot",
    "wait_results",
    "writes_figures",
]

BENCHMARK_READY_TIMEOUT = 60.0
PROGRESS_EVERY = 10.0
MIB = 1024 * 1024
# Written by kube-apiserver itself (its identity lease), not by any client we run.
NOT_OPERATOR_RESOURCES = ("coordination.k8s.io/leases",)
CREATED_BY_BENCH: WriteKey = (f"{GROUP}/evaljobs", "POST", "201")


@dataclass(frozen=True)
class Params:
    """The knobs of one bench run (all printed with the figures)."""

    sizes: list[int]
    poll_interval: float
    phases: str
    timeout: float
    workers: int
    page_size: int
    settle: float
    restart_active: int = 1000  # N for the restart with active EvalJobs (0: skip)
    long_jobs: int = 5  # EvalJobs with ten-minute jobs (0: skip)
    restart_finished: bool = True  # restart on the largest N's finished EvalJobs


def active_seconds(phases: str) -> float:
    """How long an emulator job stays active (created + pending + running) with ``phases``."""
    merged = PhaseSeconds().merged(parse_phase_seconds(phases))
    return merged.created + merged.pending + merged.running


@dataclass
class OperatorFigures:
    """Everything measured while the operator ran N EvalJobs."""

    applied_s: float
    submitted_s: float
    results_s: float
    nemo_requests: dict[str, int]
    polling: PollingFigures
    kube_writes: dict[str, int]
    operator_writes: int
    writes_per_evaljob: float
    peak_rss_mib: float
    cpu_seconds: float
    cpu_seconds_total: float
    plane_cpu_seconds: float
    counters: dict[str, int]
    counter_failures: dict[str, int]
    nemo_failures: dict[str, int]
    submissions: dict[str, int]


@dataclass
class FloorFigures:
    """Everything measured while the SDK script ran N jobs."""

    submitted_s: float
    results_s: float
    polls: int
    nemo_requests: dict[str, int]
    nemo_failures: dict[str, int]
    polling: PollingFigures


@dataclass
class SizeFigures:
    """Both sides for one N, and their ratios."""

    n: int
    operator: OperatorFigures
    floor: FloorFigures
    ratios: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ratios = {
            "submitted": self.operator.submitted_s / self.floor.submitted_s,
            "results": self.operator.results_s / self.floor.results_s,
        }


@dataclass(frozen=True)
class Snapshot:
    writes: dict[WriteKey, float]
    operator_metrics: str
    usage: ProcUsage
    plane_cpu_seconds: float  # kube-apiserver and etcd together


def say(text: str) -> None:
    """Progress on stdout, flushed at once (make shows it live)."""
    print(f"bench: {text}", flush=True)


def snapshot(plane: ControlPlane, operator: BenchOperator) -> Snapshot:
    text = scrape(f"{plane.server}/metrics", plane.admin_token, verify=str(plane.ca_file))
    return Snapshot(
        writes=apiserver_writes(text),
        operator_metrics=scrape(operator.metrics_url),
        usage=proc_usage(operator.pid),
        plane_cpu_seconds=sum(
            proc_usage(pid).cpu_seconds
            for name, pid in plane.pids.items()
            if name in ("kube-apiserver", "etcd")
        ),
    )


def prepare_namespace(api: k8s.ApiClient, namespace: str) -> None:
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "benchmarks", benchmark_manifest()
    )


def wait_results(watch: EvalJobWatch, operator: BenchOperator, n: int, deadline: float) -> None:
    """Until every EvalJob has results; fail fast on a failed EvalJob or a dead operator."""
    next_report = time.monotonic() + PROGRESS_EVERY
    while len(watch.finished) < n:
        if watch.failed:
            name, why = next(iter(watch.failed.items()))
            raise RuntimeError(f"{len(watch.failed)} EvalJobs did not succeed, e.g. {name}: {why}")
        if not operator.running:
            raise RuntimeError(f"the operator exited:\n{operator.tail()}")
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(
                f"{n - len(watch.finished)} of {n} EvalJobs without results at the deadline; "
                f"phases {dict(watch.phases())}; watch error: {watch.error!r}"
            )
        if now >= next_report:
            say(f"  {len(watch.submitted)}/{n} submitted, {len(watch.finished)}/{n} with "
                f"results, phases {dict(watch.phases())}")  # fmt: skip
            next_report = now + PROGRESS_EVERY
        time.sleep(0.5)


def writes_figures(
    before: dict[WriteKey, float], after: dict[WriteKey, float], n: int
) -> tuple[dict[str, int], int]:
    moved = delta(after, before)
    table = {" ".join(key): count for key, count in sorted(moved.items())}
    ours = sum(
        count for key, count in moved.items() if not key[0].startswith(NOT_OPERATOR_RESOURCES)
    )
    return table, ours - min(n, moved.get(CREATED_BY_BENCH, 0))


@dataclass(frozen=True)
class _Counters:
    requests: dict[str, int]
    failures: dict[str, int]
    submissions: dict[str, int]


def _operator_counters(before: str, after: str) -> _Counters:
    """Deltas of the operator's own NeMo request and submission counters."""
    family, keys = "nemo_evaluator_operator_nemo_requests", ("method", "route", "status")
    requests = delta(counter_totals(after, family, keys), counter_totals(before, family, keys))
    by_route: Counter[str] = Counter()
    for (method, route, _status), count in requests.items():
        by_route[f"{method} {route}"] += count
    subs = delta(
        counter_totals(after, "nemo_evaluator_operator_submissions", ("how",)),
        counter_totals(before, "nemo_evaluator_operator_submissions", ("how",)),
    )
    return _Counters(
        requests=dict(sorted(by_route.items())),
        failures={" ".join(k): v for k, v in sorted(requests.items()) if not k[2].startswith("2")},
        submissions={key[0]: value for key, value in sorted(subs.items())},
    )


def run_operator_case(
    plane: ControlPlane,
    emu: RunningEmulator,
    n: int,
    params: Params,
    log_dir: Path,
    operator_src: Path | None = None,
) -> OperatorFigures:
    """Apply N EvalJobs to a fresh namespace watched by a fresh operator; measure it all."""
    emu.control.reset()
    namespace = f"bench-n{n}"
    env = {
        "OPERATOR_POLL_INTERVAL": str(params.poll_interval),
        "OPERATOR_WATCH_NAMESPACES": namespace,
    }
    run_logs = log_dir / f"n{n}"
    run_logs.mkdir(exist_ok=True)
    operator = BenchOperator(plane.kubeconfig, emu.base_url, run_logs, env, operator_src)
    with plane.api_client() as api:
        prepare_namespace(api, namespace)
        operator.start()
        try:
            wait_benchmark_ready(api, namespace, BENCHMARK_READY_TIMEOUT)
            emu.control.clear_requests()
            before = snapshot(plane, operator)
            watch = EvalJobWatch(api, namespace).start()
            try:
                began = time.monotonic()
                create_evaljobs(api, namespace, n, params.workers)
                applied_s = time.monotonic() - began
                say(f"  {n} EvalJobs created in {applied_s:.1f}s")
                wait_results(watch, operator, n, began + params.timeout)
                time.sleep(params.settle)  # repeated writes after the end would show up here
                after = snapshot(plane, operator)
            finally:
                watch.stop()
            records = emu.control.requests()
        finally:
            operator.stop()
    writes, operator_writes = writes_figures(before.writes, after.writes, n)
    counters = _operator_counters(before.operator_metrics, after.operator_metrics)
    return OperatorFigures(
        applied_s=applied_s,
        submitted_s=max(watch.submitted.values()) - began,
        results_s=max(watch.finished.values()) - began,
        nemo_requests=dict(sorted(count_routes(records).items())),
        polling=polling_figures(records, params.poll_interval, active_seconds(params.phases)),
        kube_writes=writes,
        operator_writes=operator_writes,
        writes_per_evaljob=operator_writes / n,
        peak_rss_mib=after.usage.peak_rss_bytes / MIB,
        cpu_seconds=after.usage.cpu_seconds - before.usage.cpu_seconds,
        cpu_seconds_total=after.usage.cpu_seconds,
        plane_cpu_seconds=after.plane_cpu_seconds - before.plane_cpu_seconds,
        counters=counters.requests,
        counter_failures=counters.failures,
        nemo_failures=dict(sorted(count_failures(records).items())),
        submissions=counters.submissions,
    )


def run_floor_case(emu: RunningEmulator, n: int, params: Params) -> FloorFigures:
    """The same N jobs through the SDK alone, on the emulator reset to empty."""
    emu.control.reset()
    result = run_floor(
        emu.base_url, n, params.poll_interval, params.workers, params.page_size, params.timeout
    )
    records = emu.control.requests()
    return FloorFigures(
        submitted_s=result.submitted_s,
        results_s=result.results_s,
        polls=result.polls,
        nemo_requests=dict(sorted(count_routes(records).items())),
        nemo_failures=dict(sorted(count_failures(records).items())),
        polling=polling_figures(records, params.poll_interval, active_seconds(params.phases)),
    )

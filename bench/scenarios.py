"""Beyond N: what a restart costs, and what a long job writes.

- **Restart with finished EvalJobs.** The largest N's EvalJobs are all `Succeeded`; a fresh
  operator process starts on them. It should cost NeMo nothing but its start-up probe, and
  Kubernetes nothing at all.
- **Restart with active EvalJobs.** N EvalJobs whose NeMo jobs run for an hour; the operator is
  stopped and a fresh one started. Its first poll interval should cost a few pages of job
  lists, not one read per job, and no writes (progress-only writes start throttled).
- **A long job.** A few EvalJobs whose NeMo jobs run ten minutes with progress moving every
  12 s, under the default progress throttle: writes per EvalJob from start to results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.controlplane import ControlPlane

from nemo_evaluator_emulator.testing import RunningEmulator

from .cases import (
    MIB,
    Params,
    prepare_namespace,
    say,
    snapshot,
    wait_results,
    writes_figures,
)
from .probes import WriteKey, apiserver_writes, count_routes, counter_totals, scrape
from .stack import BenchOperator
from .workload import GROUP, EvalJobWatch, create_evaljobs, wait_benchmark_ready

__all__ = [
    "LongJobFigures",
    "RestartFigures",
    "run_long_jobs",
    "run_restart_active",
    "run_restart_finished",
]

PROBE_ROUTES = ("GET /apis/evals/v1/healthz", "GET /v1/evaluation/jobs ?filter=-")
"""The start-up probe: Helix's health route (404 on v1), then one v1 job list of one item."""
INDEXED_TIMEOUT = 300.0
SUBMITTED_TIMEOUT = 900.0
LONG_RUNNING_SECONDS = 600.0
ACTIVE_RUNNING_SECONDS = 3600.0


@dataclass
class RestartFigures:
    """One restart: how long until the index was whole, and what it cost meanwhile."""

    case: str
    n: int
    indexed_s: float  # process start until the phase gauge counted all N
    window_s: float  # what the counts below cover, from process start
    nemo_requests: dict[str, int]
    probe_requests: int
    first_interval_requests: int | None  # active case: until one interval after the first poll
    bound: int | None  # the target for first_interval_requests: ceil(N / page size) + 4
    kube_writes: dict[str, int]
    operator_writes: int
    peak_rss_mib: float
    cpu_seconds: float


@dataclass
class LongJobFigures:
    """K EvalJobs with ten-minute jobs, from create until every one has results."""

    k: int
    running_s: float
    results_s: float
    kube_writes: dict[str, int]
    operator_writes: int
    writes_per_evaljob: float
    status_writes_per_evaljob: float


def _operator(
    plane: ControlPlane,
    emu: RunningEmulator,
    namespace: str,
    params: Params,
    log_dir: Path,
    src: Path | None,
    extra: dict[str, str] | None = None,
) -> BenchOperator:
    env = {
        "OPERATOR_POLL_INTERVAL": str(params.poll_interval),
        "OPERATOR_WATCH_NAMESPACES": namespace,
        **(extra or {}),
    }
    logs = log_dir / namespace
    logs.mkdir(parents=True, exist_ok=True)
    return BenchOperator(plane.kubeconfig, emu.base_url, logs, env, src)


def _indexed(operator: BenchOperator, n: int, started: float) -> float:
    """Seconds from `started` until the operator's phase gauge counts all N EvalJobs."""
    deadline = time.monotonic() + INDEXED_TIMEOUT
    while time.monotonic() < deadline:
        text = scrape(operator.metrics_url)
        counted = sum(counter_totals(text, "nemo_evaluator_operator_evaljobs", ("phase",)).values())
        if counted >= n:
            return time.monotonic() - started
        if not operator.running:
            raise RuntimeError(f"the operator exited:\n{operator.tail()}")
        time.sleep(0.25)
    raise TimeoutError(f"the operator indexed fewer than {n} EvalJobs in {INDEXED_TIMEOUT:.0f}s")


def _probe_count(routes: dict[str, int]) -> int:
    return sum(routes.get(route, 0) for route in PROBE_ROUTES)


def run_restart_finished(
    plane: ControlPlane,
    emu: RunningEmulator,
    namespace: str,
    n: int,
    params: Params,
    log_dir: Path,
    src: Path | None,
) -> RestartFigures:
    """A fresh operator on N finished EvalJobs, for three poll intervals after indexing them."""
    operator = _operator(plane, emu, namespace, params, log_dir / "restart", src)
    return _restart(plane, emu, operator, "finished", n, params)


def _restart(
    plane: ControlPlane,
    emu: RunningEmulator,
    operator: BenchOperator,
    case: str,
    n: int,
    params: Params,
    page_size: int | None = None,
) -> RestartFigures:
    """Start `operator` on N indexed-to-be EvalJobs; count from before its start until three
    poll intervals after it has indexed them all."""
    emu.control.clear_requests()
    before = writes_now(plane)
    operator.start(wait=False)
    started = time.monotonic()
    try:
        operator.wait_live(timeout=120)
        indexed = _indexed(operator, n, started)
        time.sleep(3 * params.poll_interval)
        after = snapshot(plane, operator)
        window = time.monotonic() - started
        records = emu.control.requests()
    finally:
        operator.stop()
    writes, ours = writes_figures(before, after.writes, 0)
    polled = _first_poll_time(records)
    first_interval = None
    if page_size is not None and polled is not None:
        first_interval = sum(1 for r in records if float(r["time"]) < polled + params.poll_interval)
    routes = dict(sorted(count_routes(records).items()))
    return RestartFigures(
        case=case,
        n=n,
        indexed_s=indexed,
        window_s=window,
        nemo_requests=routes,
        probe_requests=_probe_count(routes),
        first_interval_requests=first_interval,
        bound=math.ceil(n / page_size) + 4 if page_size else None,
        kube_writes=writes,
        operator_writes=ours,
        peak_rss_mib=after.usage.peak_rss_bytes / MIB,
        cpu_seconds=after.usage.cpu_seconds,
    )


def writes_now(plane: ControlPlane) -> dict[WriteKey, float]:
    """kube-apiserver's write counters (no operator needed)."""
    text = scrape(f"{plane.server}/metrics", plane.admin_token, verify=str(plane.ca_file))
    return apiserver_writes(text)


def _first_poll_time(records: Sequence[dict[str, Any]]) -> float | None:
    """When the first batched poll began: the first job list that is not the probe."""
    for record in records:
        if record["method"] == "GET" and record["path"] == "/v1/evaluation/jobs":
            query = str(record.get("query") or "")
            if "search" in query or "filter" in query:
                return float(record["time"])
    return None


def run_restart_active(
    plane: ControlPlane,
    emu: RunningEmulator,
    n: int,
    params: Params,
    log_dir: Path,
    src: Path | None,
    page_size: int = 100,
) -> RestartFigures:
    """N EvalJobs with hour-long jobs: stop the operator once all run, start a fresh one."""
    emu.control.reset()
    emu.control.set_phase_seconds(created=1, pending=2, running=ACTIVE_RUNNING_SECONDS)
    namespace = f"bench-active-n{n}"
    first = _operator(plane, emu, namespace, params, log_dir, src)
    with plane.api_client() as api:
        prepare_namespace(api, namespace)
        first.start()
        try:
            wait_benchmark_ready(api, namespace, 60)
            watch = EvalJobWatch(api, namespace).start()
            try:
                create_evaljobs(api, namespace, n, params.workers)
                _wait_running(watch, first, n)
            finally:
                watch.stop()
        finally:
            first.stop()
    say(f"  {n} EvalJobs running; restarting the operator")
    second = _operator(plane, emu, namespace, params, log_dir / "restart", src)
    try:
        return _restart(plane, emu, second, "active", n, params, page_size)
    finally:
        emu.control.set_phase_seconds(running=2)


def _wait_running(watch: EvalJobWatch, operator: BenchOperator, n: int) -> None:
    deadline = time.monotonic() + SUBMITTED_TIMEOUT
    while watch.phases().get("Running", 0) < n:
        if not operator.running:
            raise RuntimeError(f"the operator exited:\n{operator.tail()}")
        if watch.failed:
            raise RuntimeError(f"EvalJobs failed: {dict(list(watch.failed.items())[:3])}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all {n} EvalJobs Running: {dict(watch.phases())}")
        time.sleep(0.5)


def run_long_jobs(
    plane: ControlPlane,
    emu: RunningEmulator,
    k: int,
    params: Params,
    log_dir: Path,
    src: Path | None,
) -> LongJobFigures:
    """K EvalJobs whose jobs run ten minutes, under the operator's default progress throttle."""
    emu.control.reset()
    emu.control.set_phase_seconds(created=1, pending=2, running=LONG_RUNNING_SECONDS)
    namespace = f"bench-long-k{k}"
    operator = _operator(plane, emu, namespace, params, log_dir, src)
    try:
        with plane.api_client() as api:
            prepare_namespace(api, namespace)
            operator.start()
            try:
                wait_benchmark_ready(api, namespace, 60)
                before = snapshot(plane, operator)
                watch = EvalJobWatch(api, namespace).start()
                try:
                    began = time.monotonic()
                    create_evaljobs(api, namespace, k, params.workers)
                    wait_results(watch, operator, k, began + LONG_RUNNING_SECONDS + 300)
                    time.sleep(params.settle)
                    after = snapshot(plane, operator)
                finally:
                    watch.stop()
            finally:
                operator.stop()
    finally:
        emu.control.set_phase_seconds(running=2)
    writes, ours = writes_figures(before.writes, after.writes, k)
    status = sum(v for key, v in writes.items() if key.startswith(f"{GROUP}/evaljobs/status"))
    return LongJobFigures(
        k=k,
        running_s=LONG_RUNNING_SECONDS,
        results_s=max(watch.finished.values()) - began,
        kube_writes=writes,
        operator_writes=ours,
        writes_per_evaljob=ours / k,
        status_writes_per_evaljob=status / k,
    )

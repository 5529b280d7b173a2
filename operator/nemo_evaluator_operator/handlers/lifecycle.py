"""Operator startup and cleanup: kopf settings, the shared clients, the engines, liveness."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from typing import Any

import kopf

from ..engine.benchmarks import BenchmarkEngine
from ..engine.cluster import ClusterView, Knobs
from ..engine.evaljobs import EvalJobEngine
from ..engine.leaderboards import LeaderboardKeeper
from ..evaluator.selection import SelectedEvaluator
from ..evaluator.transport import HttpTransport
from ..metrics import Metrics
from ..resources import KubeResources, load_api_client
from ..resources.events import KubeEvents
from ..resources.status import StatusWriter
from ..settings import OperatorSettings, SettingsError
from .runtime import RUNTIME_KEY, Runtime, runtime

__all__ = ["configure", "probe_evaluator", "shutdown"]

log = logging.getLogger(__name__)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf diffs bodies only for change handlers, and we register none; its default storage
    still deep-copies every body on every event (5% of the operator's CPU at N=5000)."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def _tune(settings: kopf.OperatorSettings) -> None:
    """kopf settings: bounded watches, explicit events only.

    kopf only delivers watch events here (no change handlers, timers or kopf finalizers), so it
    keeps no annotations on our objects; the engine owns `evaluator.nemo.dev/finalizer`.
    """
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.posting.loggers = False  # only our explicit events, not every log line
    settings.persistence.diffbase_storage = NoDiffBase()
    # No worker_limit: a per-object worker lingers for batching.idle_timeout after each event,
    # so a limit of W caps the EvalJobs being set up at W per idle period (make bench showed
    # exactly 50 active NeMo jobs and ~3 submissions/s with a limit of 50). The NeMo side is
    # already bounded by batched polling; the Kubernetes side by one worker per object.


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Read settings and create the shared clients once (tests may pre-seed settings in memo)."""
    _tune(settings)
    try:
        ours = memo.get("settings") or OperatorSettings.from_env()
    except SettingsError as err:
        raise kopf.PermanentError(str(err)) from None
    metrics = Metrics()
    if ours.metrics_port:
        metrics.serve(ours.metrics_port)
    transport = HttpTransport.from_settings(
        ours.evaluator_url,
        token=ours.read_token(),
        ca_file=str(ours.ca_file) if ours.ca_file else None,
        timeout=ours.request_timeout,
        connect_timeout=ours.connect_timeout,
        max_in_flight=ours.evaluator_connections,
        on_response=metrics.observe_response,
    )
    evaluator = SelectedEvaluator.over_http(
        transport, ours.evaluator_api, create_workspaces=ours.create_workspaces
    )
    try:  # one line says which API, or why none; a slow NeMo must not hold up the start
        await asyncio.wait_for(evaluator.start(), timeout=2 * ours.connect_timeout + 5)
    except TimeoutError:
        log.warning("NeMo evaluator did not answer the API probe in time; will probe again")
    kube = KubeResources(load_api_client())
    writer = StatusWriter(
        kube, on_rejected=lambda kind, reason: metrics.reconcile_errors.labels(kind, reason).inc()
    )
    knobs = Knobs.from_settings(ours, _instance())
    events = KubeEvents(kube)
    benchmarks: BenchmarkEngine
    evaljobs: EvalJobEngine
    cluster = ClusterView(
        kube,
        writer,
        metrics,
        lambda ns, name: benchmarks.get(ns, name),
        runs=lambda ns: evaljobs.runs(ns),
    )
    evaljobs = EvalJobEngine(evaluator, cluster, events, knobs)
    benchmarks = BenchmarkEngine(evaluator, cluster, events, knobs, evaljobs.benchmark_ready)
    leaderboards = LeaderboardKeeper(
        evaljobs.runs, benchmarks.get, benchmarks.remember, writer, knobs.leaderboard_size
    )
    evaljobs.on_run_changed = benchmarks.on_seen = leaderboards.mark
    rt = Runtime(ours, transport, evaluator, evaljobs, benchmarks, metrics)
    rt.background += [
        asyncio.create_task(evaljobs.poll_forever(), name="evaljob-poller"),
        asyncio.create_task(benchmarks.drift_forever(), name="benchmark-drift"),
        asyncio.create_task(leaderboards.run_forever(), name="leaderboards"),
    ]
    memo[RUNTIME_KEY] = rt


def _instance() -> str:
    """This process, as it signs submission markers: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    """Stop the background loops and the work queues, then close the HTTP client."""
    if RUNTIME_KEY not in memo:
        return
    rt = runtime(memo)
    for task in rt.background:
        if isinstance(task, asyncio.Task):
            task.cancel()
    await asyncio.gather(
        *(t for t in rt.background if isinstance(t, asyncio.Task)), return_exceptions=True
    )
    await rt.evaljobs.queue.close()
    await rt.benchmarks.queue.close()
    events = rt.evaljobs.events
    if isinstance(events, KubeEvents):
        await events.drain()
    await rt.transport.aclose()


@kopf.on.probe(id="evaluator")
async def probe_evaluator(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness detail: when NeMo last answered (the probe itself never fails on NeMo)."""
    rt = runtime(memo) if RUNTIME_KEY in memo else None
    seen = (
        [t for t in (rt.evaljobs.last_evaluator_ok, rt.benchmarks.last_evaluator_ok) if t]
        if rt
        else []
    )
    last = max(seen) if seen else None
    return {
        "lastEvaluatorOk": last,
        "secondsSinceEvaluatorOk": None if last is None else time.time() - last,
    }

"""Operator startup and cleanup: kopf settings, one shared HTTP client, the liveness probe."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import kopf

from ..constants import FINALIZER
from ..evaluator.selection import SelectedEvaluator
from ..evaluator.transport import HttpTransport
from ..metrics import Metrics
from ..resources import KubeResources, load_api_client
from ..settings import OperatorSettings, SettingsError
from .runtime import RUNTIME_KEY, Runtime, runtime

__all__ = ["configure", "probe_evaluator", "shutdown"]

log = logging.getLogger(__name__)


def _tune(settings: kopf.OperatorSettings) -> None:
    """kopf settings: our finalizer and annotations, bounded watches, explicit events only."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="evaluator.nemo.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="evaluator.nemo.dev", key="last-handled-configuration"
    )
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.posting.loggers = False  # only our explicit events, not every log line
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
        on_response=metrics.observe_response,
    )
    evaluator = SelectedEvaluator.over_http(
        transport,
        ours.evaluator_api,
        poll_ttl=ours.poll_interval,
        create_workspaces=ours.create_workspaces,
    )
    try:  # one line says which API, or why none; a slow NeMo must not hold up the start
        await asyncio.wait_for(evaluator.start(), timeout=2 * ours.connect_timeout + 5)
    except TimeoutError:
        log.warning("NeMo evaluator did not answer the API probe in time; will probe again")
    memo[RUNTIME_KEY] = Runtime(
        settings=ours,
        transport=transport,
        evaluator=evaluator,
        kube=KubeResources(load_api_client()),
        metrics=metrics,
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    """Close the shared HTTP client."""
    if RUNTIME_KEY in memo:
        await runtime(memo).transport.aclose()


@kopf.on.probe(id="evaluator")
async def probe_evaluator(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness detail: when NeMo last answered (the probe itself never fails on NeMo)."""
    stats = runtime(memo).stats if RUNTIME_KEY in memo else {}
    last = stats.get("last_evaluator_ok")
    return {
        "lastEvaluatorOk": last,
        "secondsSinceEvaluatorOk": None if last is None else time.time() - last,
    }

"""Benchmark handlers: one level-based reconcile for create/resume/update, plus the finalizer."""

from __future__ import annotations

import os
import time
from typing import Any

import kopf

from ..constants import BENCHMARK_PLURAL, GROUP, VERSION, Reason
from ..evaluator.errors import EvaluatorError
from ..models import Benchmark
from ..reconcile.benchmark import (
    ConfigSync,
    benchmark_status,
    config_problem,
    delete_config,
    desired_config,
    ensure_config,
)
from ..reconcile.conditions import now_iso
from ..reconcile.failures import Failure, FailureKind, classify
from .glue import backoff, parse, retry_or_give_up, write_status
from .runtime import Runtime, runtime

__all__ = ["finalize_benchmark", "is_recheckable", "recheck_benchmark", "reconcile_benchmark"]

# kopf reads timer intervals when the decorator runs, before startup; so read the env here.
DRIFT_INTERVAL = float(os.environ.get("OPERATOR_DRIFT_INTERVAL") or 300.0)
# Unexpected errors (e.g. the Kubernetes API restarting) retry after this, not kopf's 60 s.
ERROR_BACKOFF = 5.0


@kopf.on.create(GROUP, VERSION, BENCHMARK_PLURAL, backoff=ERROR_BACKOFF)
@kopf.on.resume(GROUP, VERSION, BENCHMARK_PLURAL, backoff=ERROR_BACKOFF)
@kopf.on.update(GROUP, VERSION, BENCHMARK_PLURAL, field="spec", backoff=ERROR_BACKOFF)
async def reconcile_benchmark(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """Make NeMo hold the config the spec describes, whatever happened before."""
    await _sync(body, patch, runtime(memo), retry, logger)


def is_recheckable(status: kopf.Status, **_: Any) -> bool:
    """Every Benchmark NeMo has not rejected: Ready ones, and ones failing transiently.

    Matching only Ready ones would stop the timer at the first failed re-check, and nothing
    would ever retry (a rejected spec waits for the next edit instead).
    """
    conditions = status.get("conditions") or []
    if not status.get("configName"):
        return False
    return not any(c.get("type") == "Stalled" and c.get("status") == "True" for c in conditions)


@kopf.timer(
    GROUP,
    VERSION,
    BENCHMARK_PLURAL,
    interval=DRIFT_INTERVAL,
    initial_delay=DRIFT_INTERVAL,
    when=is_recheckable,
)
async def recheck_benchmark(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **kwargs: Any
) -> None:
    """Now and then, confirm NeMo still holds the config (someone may have deleted or edited it)."""
    await _sync(body, patch, runtime(memo), int(kwargs.get("retry", 0)), logger)


async def _sync(
    body: kopf.Body, patch: kopf.Patch, rt: Runtime, retry: int, logger: kopf.Logger
) -> None:
    benchmark = parse(Benchmark, body)
    problem = config_problem(body.get("spec", {}).get("config") or {})
    if problem is not None:
        rejected = Failure(FailureKind.REJECTED, Reason.INVALID_CONFIG, problem)
        ref = benchmark.status.config_name or ""
        write_status(patch, benchmark.status, benchmark_status(benchmark, ref, now_iso(), rejected))
        _report_failure(body, benchmark, rejected, logger)
        return
    desired = desired_config(benchmark, rt.settings.evaluator_namespace)
    failure: Failure | None = None
    try:
        outcome = await ensure_config(rt.evaluator, desired)
        await _drop_stale_config(rt, benchmark, desired.ref)
        rt.stats["last_evaluator_ok"] = time.time()
    except EvaluatorError as err:
        failure = classify(err, f"sync config {desired.ref}")
    status = benchmark_status(benchmark, desired.ref, now_iso(), failure)
    write_status(patch, benchmark.status, status)
    if failure is None:
        if outcome is not ConfigSync.UNCHANGED:
            message = f"NeMo config {desired.ref} {outcome.value.lower()}"
            kopf.info(body, reason=f"Config{outcome.value}", message=message)
            logger.info("%s NeMo config %s", outcome.value, desired.ref)
        return
    _report_failure(body, benchmark, failure, logger)
    rt.metrics.reconcile_errors.labels("Benchmark", failure.reason or Reason.INVALID_CONFIG).inc()
    if failure.kind is not FailureKind.REJECTED:
        delay = backoff(retry, 2.0, rt.settings.max_backoff)
        raise kopf.TemporaryError(failure.message, delay=delay)


async def _drop_stale_config(rt: Runtime, benchmark: Benchmark, current_ref: str) -> None:
    """A changed evaluatorNamespace moves the config: delete the one left behind."""
    old = benchmark.status.config_name
    if old and old != current_ref and "/" in old:
        namespace, name = old.split("/", 1)
        await delete_config(rt.evaluator, namespace, name)


def _report_failure(
    body: kopf.Body, benchmark: Benchmark, failure: Failure, logger: kopf.Logger
) -> None:
    previous = {c.type: c.reason for c in benchmark.status.conditions}
    reason = Reason.INVALID_CONFIG if failure.kind is FailureKind.REJECTED else failure.reason
    if previous.get("Ready") != reason:
        kopf.warn(body, reason=reason, message=failure.message)
    logger.warning("Failed to sync NeMo config: %s", failure.message)


@kopf.on.delete(GROUP, VERSION, BENCHMARK_PLURAL, backoff=ERROR_BACKOFF)
async def finalize_benchmark(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """Delete the NeMo config; after bounded attempts give up with a Warning, never block."""
    rt = runtime(memo)
    benchmark = parse(Benchmark, body)
    ref = (
        benchmark.status.config_name
        or desired_config(benchmark, rt.settings.evaluator_namespace).ref
    )
    namespace, name = ref.split("/", 1)
    try:
        await delete_config(rt.evaluator, namespace, name)
    except EvaluatorError as err:
        problem = classify(err, f"delete config {ref}").message
        attempts = rt.settings.delete_max_attempts
        retry_or_give_up(body, retry, attempts, f"NeMo config {ref}", problem, logger)
        return
    kopf.info(body, reason="ConfigDeleted", message=f"NeMo config {ref} deleted")
    logger.info("Deleted NeMo config %s", ref)

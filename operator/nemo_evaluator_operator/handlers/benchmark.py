"""Benchmark handlers: one level-based reconcile for create/resume/update, plus the finalizer."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import kopf

from ..constants import BENCHMARK_PLURAL, GROUP, VERSION, Reason
from ..evaluator.errors import EvaluatorError, ForeignObjectError
from ..evaluator.port import BenchmarkDefinition, BenchmarkSync
from ..models import Benchmark
from ..reconcile.benchmark import benchmark_status, config_problem, definition_for
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
    """Make the evaluator hold (v1) or accept (Helix) what the spec describes."""
    await _sync(body, patch, runtime(memo), retry, logger)


def is_recheckable(status: kopf.Status, **_: Any) -> bool:
    """Every v1 Benchmark NeMo has not rejected: Ready ones, and ones failing transiently.

    Matching only Ready ones would stop the timer at the first failed re-check, and nothing
    would ever retry (a rejected spec waits for the next edit instead). Helix stores nothing
    for a Benchmark, so there is nothing to drift.
    """
    conditions = status.get("conditions") or []
    if not status.get("configName") or status.get("evaluatorAPI") == "helix":
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
    problem = config_problem(body.get("spec", {}))
    if problem is not None:
        definition = definition_for(benchmark, rt.settings.evaluator_namespace, with_body=False)
        rejected = Failure(FailureKind.REJECTED, Reason.INVALID_CONFIG, problem)
        write_status(
            patch, benchmark.status, benchmark_status(benchmark, definition, now_iso(), rejected)
        )
        _report_failure(body, benchmark, rejected, logger)
        return
    definition = definition_for(benchmark, rt.settings.evaluator_namespace)
    failure: Failure | None = None
    names: list[str] = []
    try:
        result = await rt.evaluator.sync_benchmark(definition)
        names = list(result.score_names)[:64]
        await _drop_stale_config(rt, benchmark, definition)
        rt.stats["last_evaluator_ok"] = time.time()
    except EvaluatorError as err:
        failure = classify(err, f"sync {definition.ref}", Reason.INVALID_CONFIG)
    status = benchmark_status(benchmark, definition, now_iso(), failure, names)
    write_status(patch, benchmark.status, status)
    if failure is None:
        _report_sync(body, benchmark, result.change, definition.ref, logger)
        return
    _report_failure(body, benchmark, failure, logger)
    rt.metrics.reconcile_errors.labels("Benchmark", failure.reason).inc()
    if failure.kind is not FailureKind.REJECTED:
        ceiling = rt.settings.max_backoff
        delay = ceiling if failure.kind is FailureKind.STALLED else backoff(retry, 2.0, ceiling)
        raise kopf.TemporaryError(failure.message, delay=max(delay, failure.retry_after or 0.0))


def _report_sync(
    body: kopf.Body, benchmark: Benchmark, change: BenchmarkSync, ref: str, logger: kopf.Logger
) -> None:
    """An event when the evaluator's copy changed, or a new generation was validated."""
    changed = change in (BenchmarkSync.CREATED, BenchmarkSync.UPDATED)
    validated = change is BenchmarkSync.VALIDATED
    if changed or (
        validated and benchmark.status.observed_generation != benchmark.metadata.generation
    ):
        what = "NeMo config" if changed else "Helix evaluation definition"
        message = f"{what} {ref} {change.value.lower()}"
        kopf.info(body, reason=f"Config{change.value}", message=message)
        logger.info("%s %s %s", change.value, what, ref)


async def _drop_stale_config(
    rt: Runtime, benchmark: Benchmark, current: BenchmarkDefinition
) -> None:
    """A changed evaluatorNamespace moves a v1 config: delete the one left behind."""
    old = benchmark.status.config_name
    if current.api == "v1" and old and old != current.ref and "/" in old:
        stale = dataclasses.replace(current, namespace=old.split("/", 1)[0])
        await rt.evaluator.delete_benchmark(stale)


def _report_failure(
    body: kopf.Body, benchmark: Benchmark, failure: Failure, logger: kopf.Logger
) -> None:
    previous = {c.type: c.reason for c in benchmark.status.conditions}
    if previous.get("Ready") != failure.reason:
        kopf.warn(body, reason=failure.reason, message=failure.message)
    logger.warning("Failed to sync Benchmark: %s", failure.message)


@kopf.on.delete(GROUP, VERSION, BENCHMARK_PLURAL, backoff=ERROR_BACKOFF)
async def finalize_benchmark(
    body: kopf.Body, memo: kopf.Memo, retry: int, logger: kopf.Logger, **_: Any
) -> None:
    """Delete what the evaluator holds for it; after bounded attempts give up, never block."""
    rt = runtime(memo)
    benchmark = parse(Benchmark, body)
    definition = definition_for(benchmark, rt.settings.evaluator_namespace, with_body=False)
    if benchmark.status.evaluator_namespace:  # where it was actually made, if it moved since
        definition = dataclasses.replace(definition, namespace=benchmark.status.evaluator_namespace)
    try:
        await rt.evaluator.delete_benchmark(definition)
    except ForeignObjectError as err:
        kopf.warn(body, reason=Reason.FOREIGN_OBJECT, message=err.message)
        return
    except EvaluatorError as err:
        problem = classify(err, f"delete {definition.ref}").message
        attempts = rt.settings.delete_max_attempts
        retry_or_give_up(body, retry, attempts, f"NeMo config {definition.ref}", problem, logger)
        return
    if definition.api == "v1":
        kopf.info(body, reason="ConfigDeleted", message=f"NeMo config {definition.ref} deleted")
        logger.info("Deleted NeMo config %s", definition.ref)

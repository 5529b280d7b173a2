"""Benchmarks: an index fed by watch events, one sync per object at a time, batched drift checks.

A Benchmark is synced when it is new or its spec changed (a generation the status has not
observed), retried with backoff while the evaluator fails, and rechecked for drift in one
batched call per interval (v1: one list of our configs, not one read per Benchmark). An edit
that arrives during a sync or a recheck runs once more after it, under the same lock, so
NeMo always ends at the newest spec. The index also answers the EvalJobs' "is my Benchmark
ready" without an API read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..constants import FINALIZER, Cond, Reason
from ..errors import KubernetesError
from ..evaluator.errors import EvaluatorError, ForeignObjectError
from ..evaluator.port import BenchmarkDefinition, BenchmarkSync, EvaluatorPort
from ..models import Benchmark
from ..reconcile.benchmark import benchmark_status, config_problem, definition_for
from ..reconcile.conditions import now_iso, seconds_since
from ..reconcile.evaljob_status import EventSpec
from ..reconcile.failures import Failure, FailureKind, classify
from .cluster import ClusterView, EventSink, Knobs, status_dict
from .leaderboards import LEADERBOARD_FIELDS
from .workqueue import Workqueue

__all__ = ["BenchmarkEngine"]

log = logging.getLogger(__name__)


@dataclass
class BenchmarkEntry:
    uid: str
    namespace: str
    name: str
    body: dict[str, Any] = field(default_factory=dict)
    known_status: dict[str, Any] = field(default_factory=dict)
    resource_version: str = ""
    generation: int = 0
    handled_generation: int = -1
    retry: int = 0
    deletion: asyncio.Task[None] | None = None


class BenchmarkEngine:
    """Everything that happens to Benchmarks, driven by `on_event` and `drift_forever`."""

    def __init__(
        self,
        evaluator: EvaluatorPort,
        cluster: ClusterView,
        events: EventSink,
        knobs: Knobs,
        on_ready: Callable[[str, str], None],
    ) -> None:
        self.evaluator = evaluator
        self.cluster = cluster
        self.events = events
        self.knobs = knobs
        self.on_ready = on_ready
        self.entries: dict[str, BenchmarkEntry] = {}
        self.by_name: dict[tuple[str, str], str] = {}
        self.queue: Workqueue[str] = Workqueue(self._step, knobs.concurrency)
        self.last_evaluator_ok: float | None = None
        self.on_seen: Callable[[str, str], None] = lambda _ns, _name: None  # the leaderboards

    def remember(self, namespace: str, name: str, changed: Mapping[str, Any]) -> None:
        """Fold a status write made elsewhere (the leaderboard) into what the index knows."""
        uid = self.by_name.get((namespace, name))
        entry = self.entries.get(uid) if uid else None
        if entry is not None:
            merged = {**entry.known_status, **changed}
            entry.known_status = {k: v for k, v in merged.items() if v is not None}

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Benchmark as the operator knows it (its own status writes included)."""
        uid = self.by_name.get((namespace, name))
        entry = self.entries.get(uid) if uid else None
        if entry is None:
            return None
        return {**entry.body, "status": dict(entry.known_status)}

    def on_event(self, kind: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        key = (str(meta.get("namespace")), str(meta.get("name")))
        if kind == "DELETED":
            self.entries.pop(uid, None)
            self.queue.forget(uid)
            if self.by_name.get(key) == uid:
                self.by_name.pop(key, None)
            return
        entry = self.entries.get(uid)
        first = entry is None
        if entry is None:
            entry = self.entries[uid] = BenchmarkEntry(uid, *key)
            self.by_name[key] = uid
        entry.body = dict(body)
        entry.known_status = dict(body.get("status") or {})
        entry.resource_version = str(meta.get("resourceVersion") or "")
        entry.generation = int(meta.get("generation") or 0)
        self.on_seen(*key)
        if meta.get("deletionTimestamp"):
            if FINALIZER in (meta.get("finalizers") or []) and entry.deletion is None:
                entry.deletion = asyncio.get_running_loop().create_task(self._delete(uid))
            return
        if first and _ready(entry.known_status, entry.generation):
            entry.handled_generation = entry.generation  # resumed: the drift check verifies it
            return
        if entry.generation != entry.handled_generation:
            self.queue.kick(uid)

    async def drift_forever(self) -> None:
        """Now and then, one batched check that NeMo still holds every stored definition."""
        while True:
            await asyncio.sleep(self.knobs.drift_interval)
            try:
                await self.check_drift()
            except EvaluatorError as err:
                log.warning("Drift check failed: %s", err.message)
            except Exception:
                log.exception("Drift check failed")

    async def check_drift(self) -> set[str]:
        """Kick every Ready Benchmark whose stored definition is gone or differs."""
        ready: dict[str, str] = {}
        definitions: list[BenchmarkDefinition] = []
        for entry in self.entries.values():
            if entry.deletion is not None or not _ready(entry.known_status, entry.generation):
                continue
            try:
                benchmark = Benchmark.model_validate(self.get(entry.namespace, entry.name))
            except ValidationError:
                continue
            if benchmark.spec.api != "v1":
                continue
            definition = self._recorded(benchmark)
            definitions.append(definition)
            ready[definition.ref] = entry.uid
        drifted = await self.evaluator.drifted(definitions) if definitions else set()
        for ref in drifted:
            self.queue.kick(ready[ref])
        return drifted

    def _recorded(self, benchmark: Benchmark) -> BenchmarkDefinition:
        """The definition where the status says it was made (it may have moved since)."""
        definition = definition_for(benchmark, self.knobs.default_namespace)
        recorded = benchmark.status.config_name
        if recorded and "/" in recorded:
            namespace, name = recorded.split("/", 1)
            definition = dataclasses.replace(definition, namespace=namespace, name=name)
        return definition

    async def _step(self, uid: str) -> float | None:
        entry = self.entries.get(uid)
        if entry is None or entry.deletion is not None:
            return None
        generation = entry.generation
        try:
            benchmark = Benchmark.model_validate({**entry.body, "status": entry.known_status})
        except ValidationError as err:
            log.warning("Benchmark %s/%s cannot be read: %s", entry.namespace, entry.name, err)
            return None
        failure: Failure | None = None
        problem = config_problem(entry.body.get("spec") or {})
        if problem is not None:
            definition = definition_for(benchmark, self.knobs.default_namespace, with_body=False)
            failure = Failure(FailureKind.REJECTED, Reason.INVALID_CONFIG, problem)
            await self._finish(entry, benchmark, definition, failure, None, [])
            entry.handled_generation = generation
            return None
        definition = definition_for(benchmark, self.knobs.default_namespace)
        change: BenchmarkSync | None = None
        names: list[str] = []
        try:
            if definition.api == "v1":
                await self._ensure_finalizer(entry)
            result = await self.evaluator.sync_benchmark(definition)
            change, names = result.change, list(result.score_names)[:64]
            await self._drop_moved(benchmark, definition)
            self.last_evaluator_ok = time.time()
        except EvaluatorError as err:
            failure = classify(err, f"sync {definition.ref}", Reason.INVALID_CONFIG)
        except KubernetesError as err:
            if err.status == 409:  # changed meanwhile: the next event brings the fresh body
                return None
            raise
        await self._finish(entry, benchmark, definition, failure, change, names)
        entry.handled_generation = generation
        if failure is None or failure.kind is FailureKind.REJECTED:
            entry.retry = 0
            return None
        self.cluster.metrics.reconcile_errors.labels("Benchmark", failure.reason).inc()
        entry.retry += 1
        wait = failure.retry_after or 0.0
        if failure.kind is FailureKind.STALLED:
            return float(max(self.knobs.max_backoff, wait))
        delay = min(self.knobs.max_backoff, 2.0 * 2 ** min(entry.retry - 1, 16))
        return float(max(delay, wait))

    async def _ensure_finalizer(self, entry: BenchmarkEntry) -> None:
        """A v1 config is made only once the finalizer that will delete it is in place."""
        finalizers = list((entry.body.get("metadata") or {}).get("finalizers") or [])
        if FINALIZER in finalizers:
            return
        entry.resource_version = await self.cluster.kube.patch_benchmark_metadata(
            entry.namespace,
            entry.name,
            {"finalizers": [*finalizers, FINALIZER]},
            entry.resource_version,
        )
        entry.body.setdefault("metadata", {})["finalizers"] = [*finalizers, FINALIZER]

    async def _drop_moved(self, benchmark: Benchmark, current: BenchmarkDefinition) -> None:
        """A changed evaluatorNamespace moves a v1 config: delete the one left behind."""
        old = benchmark.status.config_name
        if current.api == "v1" and old and old != current.ref and "/" in old:
            stale = dataclasses.replace(current, namespace=old.split("/", 1)[0])
            await self.evaluator.delete_benchmark(stale)

    async def _finish(
        self,
        entry: BenchmarkEntry,
        benchmark: Benchmark,
        definition: BenchmarkDefinition,
        failure: Failure | None,
        change: BenchmarkSync | None,
        names: list[str],
    ) -> None:
        status = benchmark_status(benchmark, definition, now_iso(), failure, names)
        new = status_dict(status)
        old = entry.known_status
        changed = {
            k: new.get(k)
            for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k) and k not in LEADERBOARD_FIELDS  # the keeper's
        }
        was_ready = _ready(old, entry.generation)
        if changed:
            try:
                await self.cluster.writer.benchmark(
                    entry.namespace, entry.name, changed, generation=entry.generation
                )
            except KubernetesError as err:
                if err.status != 404:
                    raise
                return
            entry.known_status = {k: v for k, v in {**old, **changed}.items() if v is not None}
        events: list[EventSpec] = []
        if failure is None and change is not None:
            observed_before = benchmark.status.observed_generation
            if change in (BenchmarkSync.CREATED, BenchmarkSync.UPDATED) or (
                change is BenchmarkSync.VALIDATED
                and observed_before != benchmark.metadata.generation
            ):
                what = (
                    "NeMo config"
                    if change is not BenchmarkSync.VALIDATED
                    else "Helix evaluation definition"
                )
                events.append(
                    EventSpec(
                        "Normal",
                        f"Config{change.value}",
                        f"{what} {definition.ref} {change.value.lower()}",
                    )
                )
        elif failure is not None:
            previous = {c.type: c.reason for c in benchmark.status.conditions}
            if previous.get(Cond.READY) != failure.reason:
                events.append(EventSpec("Warning", failure.reason, failure.message))
            log.warning("Benchmark %s/%s: %s", entry.namespace, entry.name, failure.message)
        self.events.post(entry.body, events)
        if _ready(entry.known_status, entry.generation) and not was_ready:
            self.on_ready(entry.namespace, entry.name)

    async def _delete(self, uid: str) -> None:
        async with self.queue.lock(uid):
            while True:
                entry = self.entries.get(uid)
                if entry is None or FINALIZER not in (
                    (entry.body.get("metadata") or {}).get("finalizers") or []
                ):
                    return
                benchmark = Benchmark.model_validate({**entry.body, "status": entry.known_status})
                definition = definition_for(
                    benchmark, self.knobs.default_namespace, with_body=False
                )
                recorded = benchmark.status.evaluator_namespace
                if recorded:
                    definition = dataclasses.replace(definition, namespace=recorded)
                try:
                    await self.evaluator.delete_benchmark(definition)
                    if definition.api == "v1":
                        message = f"NeMo config {definition.ref} deleted"
                        self.events.post(
                            entry.body, [EventSpec("Normal", "ConfigDeleted", message)]
                        )
                    await self._release(entry)
                    return
                except ForeignObjectError as err:
                    self.events.post(
                        entry.body, [EventSpec("Warning", Reason.FOREIGN_OBJECT, err.message)]
                    )
                    await self._release(entry)
                    return
                except EvaluatorError as err:
                    problem = classify(err, f"delete {definition.ref}").message
                except KubernetesError as err:
                    problem = f"Kubernetes API error: {err.message}"
                except Exception as err:  # a bug must not leave the object stuck for good
                    log.exception("Deleting Benchmark %s/%s failed", entry.namespace, entry.name)
                    problem = f"internal error: {type(err).__name__}"
                requested = (entry.body.get("metadata") or {}).get("deletionTimestamp")
                spent = seconds_since(requested, datetime.now(UTC)) if requested else 0.0
                if spent >= self.knobs.delete_budget:
                    message = (
                        f"Gave up cleaning up NeMo config {definition.ref} after {spent:.0f}s: "
                        f"{problem}"
                    )
                    self.events.post(
                        entry.body, [EventSpec("Warning", Reason.CLEANUP_ABANDONED, message)]
                    )
                    await self._release(entry)
                    return
                await asyncio.sleep(min(self.knobs.poll_interval * 2, 30.0))

    async def _release(self, entry: BenchmarkEntry) -> None:
        finalizers = [
            f for f in (entry.body.get("metadata") or {}).get("finalizers") or [] if f != FINALIZER
        ]
        try:
            await self.cluster.kube.patch_benchmark_metadata(
                entry.namespace,
                entry.name,
                {"finalizers": finalizers or None},
                entry.resource_version,
            )
        except KubernetesError as err:
            if err.status == 409:
                entry.deletion = None  # the next event starts over with the fresh body
                return
            if err.status != 404:
                raise


def _ready(status: Mapping[str, Any], generation: int) -> bool:
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == Cond.READY and c.get("status") == "True" for c in conditions)
    return ready and status.get("observedGeneration") == generation

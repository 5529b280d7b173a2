"""Prometheus metrics: what the operator asks of NeMo, and where its EvalJobs stand."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .score_metrics import ScoreMetrics

__all__ = ["Metrics"]

PHASES = ("Pending", "Submitted", "Running", "Succeeded", "Failed", "Cancelled")
TERMINAL = frozenset({"Succeeded", "Failed", "Cancelled"})


class Metrics:
    """One registry per operator, so tests can run several without global state clashing."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.nemo_requests = Counter(
            "nemo_evaluator_operator_nemo_requests",
            "Requests sent to NeMo Evaluator, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.nemo_latency = Histogram(
            "nemo_evaluator_operator_nemo_request_seconds",
            "NeMo Evaluator request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.submissions = Counter(
            "nemo_evaluator_operator_submissions",
            "NeMo jobs created or adopted for EvalJobs",
            ["how"],
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "nemo_evaluator_operator_reconcile_errors",
            "Reconcile attempts that ended in an error, by kind and reason",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.evaljobs = Gauge(
            "nemo_evaluator_operator_evaljobs",
            "EvalJobs seen by the operator, by namespace and phase",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.poll_lag = Gauge(
            "nemo_evaluator_operator_poll_lag_seconds",
            "Longest time since an active EvalJob was last observed in NeMo",
            registry=self.registry,
        )
        self.duplicates = Counter(
            "nemo_evaluator_operator_duplicate_jobs",
            "Duplicate NeMo jobs found for an EvalJob (v1, after a lost POST answer) and removed",
            registry=self.registry,
        )
        self.finished = Counter(
            "nemo_evaluator_operator_evaljobs_finished",
            "EvalJobs this operator saw reach a terminal phase, by namespace and phase",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.scores = ScoreMetrics(self.registry)
        self.poll_lag.set_function(self._max_lag)
        self._phases: dict[str, tuple[str, str]] = {}  # uid -> (namespace, phase)
        self._counts: dict[tuple[str, str], int] = {}
        self._observed: dict[str, float] = {}
        self._namespaces: set[str] = set()

    def set_phase(self, uid: str, phase: str | None, namespace: str = "") -> None:
        """An EvalJob's phase now (None: deleted), for the by-phase gauge; O(1) per call."""
        old = self._phases.pop(uid, None) if phase is None else self._phases.get(uid)
        new = None if phase is None else (namespace, phase)
        if old == new:
            return
        if old is not None:
            self._move(old, -1)
        if new is None:
            self._observed.pop(uid, None)
            return
        self._phases[uid] = new
        self._move(new, +1)
        if phase in TERMINAL:
            self._observed.pop(uid, None)
            if old is not None and old[1] not in TERMINAL:
                self.finished.labels(namespace, phase).inc()  # seen finishing, not listed done

    def _move(self, where: tuple[str, str], by: int) -> None:
        if where[0] not in self._namespaces:
            self._namespaces.add(where[0])  # every phase shows, at 0, from the first EvalJob on
            for phase in PHASES:
                self.evaljobs.labels(where[0], phase).set(0)
            for phase in TERMINAL:
                self.finished.labels(where[0], phase)  # at 0, so increase() sees the first one
        self._counts[where] = self._counts.get(where, 0) + by
        self.evaljobs.labels(*where).set(self._counts[where])

    def observe_response(self, method: str, route: str, status: int | None, seconds: float) -> None:
        """The NeMo client's response hook."""
        code = "error" if status is None else str(status)
        self.nemo_requests.labels(method, route, code).inc()
        self.nemo_latency.labels(method, route).observe(seconds)

    def mark_observed(self, uid: str) -> None:
        """An active EvalJob was just reconciled against NeMo."""
        self._observed[uid] = time.monotonic()

    def _max_lag(self) -> float:
        if not self._observed:
            return 0.0
        return time.monotonic() - min(self._observed.values())

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (a daemon thread owned by prometheus_client)."""
        start_http_server(port, registry=self.registry)

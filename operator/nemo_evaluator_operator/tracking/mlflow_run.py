"""What one EvalJob becomes in MLflow, decided without I/O.

The run is found again by the EvalJob's UID tag (and named after it), so a retry or a
restart completes the run it already created instead of logging a second one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

UID_TAG = "nemo.evaljob.uid"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|authorization)", re.IGNORECASE)
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class RunRecord:
    """Everything logged for one EvalJob: a run name, tags, params and metrics."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def run_name(namespace: str, name: str, uid: str) -> str:
    """Deterministic, so a run is recognisable in the MLflow UI as its EvalJob."""
    return f"{namespace}.{name}-{uid[:8]}"


def uid_filter(uid: str) -> str:
    """MLflow search filter that finds the run an earlier attempt created."""
    return f"tags.`{UID_TAG}` = '{uid.replace(chr(39), '')}'"


def metric_key(score: str) -> str:
    """MLflow accepts only some characters in keys; others become underscores."""
    return _KEY_UNSAFE.sub("_", score)[:250] or "_"


def redact(document: object) -> object:
    """A copy of a results document with every secret-looking value replaced."""
    if isinstance(document, Mapping):
        return {
            key: _REDACTED if _SECRET_KEY.search(str(key)) else redact(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [redact(item) for item in document]
    return document


def build_record(
    *,
    namespace: str,
    name: str,
    uid: str,
    benchmark: str,
    generation: int,
    config_hash: str,
    model: str,
    job_id: str,
    backend: str,
    scores: Mapping[str, object],
) -> RunRecord:
    """The run for one finished EvalJob; non-numeric scores are left out."""
    metrics = {
        metric_key(score): float(value)
        for score, value in scores.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    return RunRecord(
        name=run_name(namespace, name, uid),
        tags={
            UID_TAG: uid,
            "nemo.evaljob.namespace": namespace,
            "nemo.evaljob.name": name,
            "nemo.backend": backend,
            "nemo.job_id": job_id,
            "mlflow.runName": run_name(namespace, name, uid),
        },
        params={
            "model": model,
            "benchmark": benchmark,
            "benchmark_generation": str(generation),
            "config_hash": config_hash,
        },
        metrics=metrics,
    )

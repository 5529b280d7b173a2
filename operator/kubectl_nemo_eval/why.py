"""One screen on why an EvalJob is where it is: phase, NeMo's message, conditions, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .table import age, cut, render

__all__ = ["EVENTS_SHOWN", "render_why"]

EVENTS_SHOWN = 10


def render_why(evaljob: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> str:
    """The facts first (phase, Benchmark, model, NeMo job, message), then the two tables."""
    meta, status = evaljob["metadata"], evaljob.get("status") or {}
    lines = [
        f"EvalJob {meta['namespace']}/{meta['name']}: {status.get('phase') or 'no phase yet'}"
        f" (created {age(meta.get('creationTimestamp'), now)} ago)",
        f"Benchmark: {evaljob['spec']['benchmarkRef']['name']}"
        + (f", model {status['model']}" if status.get("model") else ""),
        f"NeMo job:  {_job(status)}",
        f"Message:   {status.get('message') or '-'}",
    ]
    for result in status.get("gate") or []:
        verdict = "PASS" if result.get("passed") else "FAIL"
        lines.append(f"Gate:      {verdict} {result.get('metric')}: {result.get('message')}")
    lines += ["", "CONDITIONS", _conditions(status.get("conditions") or [], now)]
    lines += ["", f"EVENTS (last {EVENTS_SHOWN}, oldest first)", _events(meta, events, now)]
    return "\n".join(lines)


def _job(status: dict[str, Any]) -> str:
    if not status.get("jobId"):
        return "not submitted"
    where = [status.get("evaluatorAPI"), status.get("evaluatorNamespace")]
    detail = ", ".join(str(part) for part in where if part)
    return f"{status['jobId']}" + (f" ({detail})" if detail else "")


def _conditions(conditions: list[dict[str, Any]], now: datetime) -> str:
    if not conditions:
        return "<none>"
    rows = [
        [
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "")),
            age(c.get("lastTransitionTime"), now),
            cut(c.get("message")),
        ]
        for c in conditions
    ]
    return render(["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], rows)


def _events(meta: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> str:
    """Only events of this object (same uid: an older namesake's events are not its story)."""
    own = [e for e in events if e.get("involvedObject", {}).get("uid") in (None, meta.get("uid"))]
    own.sort(key=_when)
    if not own:
        return "<none>"
    rows = [
        [
            age(_when(e) or None, now),
            str(e.get("type", "")),
            str(e.get("reason", "")),
            str(e.get("count") or 1),
            cut(e.get("message")),
        ]
        for e in own[-EVENTS_SHOWN:]
    ]
    return render(["LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE"], rows, right=(3,))


def _when(event: dict[str, Any]) -> str:
    series = event.get("series") or {}
    stamps = [
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ]
    return next((str(stamp) for stamp in stamps if stamp), "")

"""Every status the operator writes fits the CRD's schema, whatever the evaluator answered.

The caps mirror crds/*.yaml (a test checks them against the real API server); anything cut
says so with a visible marker, so a shortened message is never mistaken for the whole one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CUT",
    "MAX_MESSAGE",
    "bound_benchmark_status",
    "bound_evaljob_status",
    "cap",
    "safe_reason",
]

CUT: Final = " …[cut]"
MAX_MESSAGE: Final = 32768
MAX_HEADLINE: Final = 512
MAX_TASKS: Final = 64
MAX_TASK_VALUE: Final = 64
MAX_TASK_KEY: Final = 256
MAX_SCORES: Final = 64
MAX_SCORE_KEY: Final = 256
MAX_REF: Final = 253
MAX_MODEL: Final = 512
MAX_NAMESPACE: Final = 253
MAX_CONFIG_NAME: Final = 512
MAX_REASON: Final = 1024
MAX_SCORE_NAMES: Final = 64
_REASON: Final = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


def cap(text: str, limit: int) -> str:
    """`text`, or its start with a marker saying it was cut, within `limit` characters."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(CUT), 0)] + CUT


def safe_reason(reason: str) -> str:
    """A reason the CRD accepts (CamelCase, non-empty); `EvaluatorError` when it is not."""
    return (
        reason
        if reason and len(reason) <= MAX_REASON and _REASON.match(reason)
        else "EvaluatorError"
    )


def _conditions(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    out = []
    for condition in value[:16]:
        if isinstance(condition, dict):
            condition = dict(condition)
            condition["reason"] = safe_reason(str(condition.get("reason") or ""))
            if isinstance(condition.get("message"), str):
                condition["message"] = cap(condition["message"], MAX_MESSAGE)
        out.append(condition)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scores(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    kept = [(cap(str(k), MAX_SCORE_KEY), v) for k, v in value.items() if _finite(v)]
    return dict(kept[:MAX_SCORES]) or None


def _task_status(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    items = list(value.items())[:MAX_TASKS]
    return {cap(str(k), MAX_TASK_KEY): cap(str(v), MAX_TASK_VALUE) for k, v in items} or None


_EVALJOB_STRINGS: Final = {
    "message": MAX_MESSAGE,
    "headlineScore": MAX_HEADLINE,
    "jobId": MAX_REF,
    "model": MAX_MODEL,
    "evaluatorNamespace": MAX_NAMESPACE,
    "configName": MAX_CONFIG_NAME,
}


def bound_evaljob_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """The EvalJob status patch, cut to the CRD's bounds."""
    out = dict(status)
    for key, limit in _EVALJOB_STRINGS.items():
        if isinstance(out.get(key), str):
            out[key] = cap(out[key], limit)
    for key in ("progress",):
        if key in out and out[key] is not None and not _finite(out[key]):
            out[key] = None
    for key in ("scores", "scoreErrors"):
        if key in out:
            out[key] = _scores(out[key])
    if "taskStatus" in out:
        out["taskStatus"] = _task_status(out["taskStatus"])
    if "conditions" in out:
        out["conditions"] = _conditions(out["conditions"])
    return out


def bound_benchmark_status(status: Mapping[str, Any]) -> dict[str, Any]:
    """The Benchmark status patch, cut to the CRD's bounds."""
    out = dict(status)
    if isinstance(out.get("configName"), str):
        out["configName"] = cap(out["configName"], MAX_CONFIG_NAME)
    if isinstance(out.get("scoreNames"), list):
        out["scoreNames"] = [
            cap(str(n), MAX_SCORE_KEY * 2) for n in out["scoreNames"][:MAX_SCORE_NAMES]
        ]
    if "conditions" in out:
        out["conditions"] = _conditions(out["conditions"])
    return out

"""A batch of EvalJobs under fault, and the count of what was lost or duplicated at the end.

Why: the promise under faults is "never duplicate, never lose a result", so each scenario ends
by counting, per EvalJob, the NeMo jobs tagged with its UID and comparing the results ConfigMap
with what NeMo serves. The counts are recorded (not only asserted) so they can be quoted.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from tests.e2e.helpers import CUSTOM_CONFIG, benchmark_manifest, evaljob_manifest

from .stack import Stack, list_objects

__all__ = [
    "BENCHMARK",
    "OPERATOR_ENV",
    "PHASES",
    "Ledger",
    "Tally",
    "apply_batch",
    "nemo_jobs_for",
    "phases_of",
    "tally",
    "timeline",
    "wait_until",
]

BENCHMARK = "qa"
PHASES = "created=0.3,pending=0.5,running=4,cancelling=0.5"
OPERATOR_ENV = {
    "OPERATOR_REQUEST_TIMEOUT": "2",
    "OPERATOR_POLL_INTERVAL": "1",
    "OPERATOR_MAX_BACKOFF": "4",
    "OPERATOR_DRIFT_INTERVAL": "3",  # Benchmarks are re-checked (and faulted) mid-scenario too
}
# Reads the test makes while the API server restarts fail for a few seconds; keep polling.
_TRANSIENT = (ApiException, Urllib3Error, ConnectionError, OSError)


def wait_until(fn: Callable[[], Any], timeout: float, interval: float = 0.5) -> bool:
    """Poll `fn` until truthy; False on timeout. Errors from a restarting server count as no."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(*_TRANSIENT):
            if fn():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def apply_batch(stack: Stack, count: int, prefix: str = "ej") -> list[str]:
    """A Ready Benchmark, then `count` EvalJobs in one kubectl call; returns their names."""
    stack.cluster.apply(benchmark_manifest(BENCHMARK, CUSTOM_CONFIG))
    stack.cluster.wait_condition("Benchmark", BENCHMARK, "Ready", timeout=30)
    names = [f"{prefix}-{i:02d}" for i in range(count)]
    docs = [evaljob_manifest(name, BENCHMARK) for name in names]
    stack.cluster.kubectl("apply", "-n", stack.namespace, "-f", "-", input=yaml.safe_dump_all(docs))
    return names


def phases_of(stack: Stack, names: list[str]) -> dict[str, str | None]:
    """Phase per EvalJob (None before the operator's first status write)."""
    items = list_objects(stack.cluster, "evaljobs")
    found = {i["metadata"]["name"]: i.get("status", {}).get("phase") for i in items}
    return {name: found.get(name) for name in names}


def nemo_jobs_for(stack: Stack, uid: str) -> list[dict[str, Any]]:
    """Every NeMo job tagged with this EvalJob UID (the server filters; we check again)."""
    response = httpx.get(
        f"{stack.emulator.base_url}/v1/evaluation/jobs",
        params={"filter[custom_fields][evaljob_uid]": uid, "page_size": 100},
        timeout=10,
    )
    response.raise_for_status()
    jobs: list[dict[str, Any]] = response.json()["data"]
    return [j for j in jobs if (j.get("custom_fields") or {}).get("evaljob_uid") == uid]


@dataclass
class Tally:
    """Outcome of one scenario: what was lost or duplicated, and why."""

    scenario: str
    evaljobs: int = 0
    lost: int = 0
    duplicated: int = 0  # extra NeMo jobs still there at the end
    created: int = 0  # job POSTs NeMo answered 2xx: jobs created, whatever became of them
    duplicates_created: int = 0  # created beyond one per EvalJob (then removed, if not above)
    seconds: float = 0.0
    settle_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"fault scenario {self.scenario}: evaljobs={self.evaljobs} lost={self.lost} "
            f"duplicated={self.duplicated} created={self.created} "
            f"duplicates_created={self.duplicates_created} seconds={self.seconds:.1f} "
            f"(finished {self.settle_seconds:.1f}s after the fault ended)"
        )


def tally(stack: Stack, scenario: str, names: list[str]) -> Tally:
    """Count lost EvalJobs (not Succeeded, or results missing or different) and extra jobs."""
    result = Tally(scenario, evaljobs=len(names))
    created = _creations(stack)
    for name in names:
        obj = stack.cluster.get("EvalJob", name)
        made = created.get(obj["metadata"]["uid"], 0) if obj else 0
        result.created += made
        result.duplicates_created += max(0, made - 1)
        problem, extra = _check_one(stack, name)
        result.duplicated += extra
        if extra:
            result.problems.append(f"{name}: {extra + 1} NeMo jobs")
            result.problems += timeline(stack, name)
        if problem:
            result.lost += 1
            result.problems.append(f"{name}: {problem}")
    return result


def _creations(stack: Stack) -> dict[str, int]:
    """Job POSTs that NeMo answered 2xx, per EvalJob UID (from the emulator's request log)."""
    counts: dict[str, int] = {}
    for record in stack.emulator.control.requests(method="POST", path_prefix="/v1/evaluation/jobs"):
        body = record.get("body") or {}
        uid = (
            (body.get("custom_fields") or {}).get("evaljob_uid") if isinstance(body, dict) else None
        )
        status = record.get("status")
        if record["path"] == "/v1/evaluation/jobs" and uid and status and 200 <= int(status) < 300:
            counts[uid] = counts.get(uid, 0) + 1
    return counts


def _check_one(stack: Stack, name: str) -> tuple[str | None, int]:
    """(why the EvalJob counts as lost or None, number of extra NeMo jobs)."""
    obj = stack.cluster.get("EvalJob", name)
    if obj is None:
        return "EvalJob is gone", 0
    status = obj.get("status", {})
    jobs = nemo_jobs_for(stack, obj["metadata"]["uid"])
    extra = max(0, len(jobs) - 1)
    if status.get("phase") != "Succeeded":
        return f"phase {status.get('phase')} ({status.get('message')})", extra
    if not jobs:
        return "no NeMo job carries its UID", extra
    job_id = status.get("jobId")
    if job_id not in {j["id"] for j in jobs}:
        return f"status.jobId {job_id} is not one of its NeMo jobs", extra
    return _results_problem(stack, name, job_id), extra


def _results_problem(stack: Stack, name: str, job_id: str) -> str | None:
    cm = stack.cluster.config_map(f"{name}-results")
    data = (cm.data if cm is not None else None) or {}
    if "results.json" not in data:
        return "results ConfigMap missing"
    served = httpx.get(f"{stack.emulator.base_url}/v1/evaluation/jobs/{job_id}/results", timeout=10)
    served.raise_for_status()
    if json.loads(data["results.json"]) != served.json():
        return "results ConfigMap differs from NeMo's results"
    return None


def timeline(stack: Stack, name: str) -> list[str]:
    """The NeMo requests about one EvalJob (by UID), as evidence for a failure message."""
    obj = stack.cluster.get("EvalJob", name)
    if obj is None:
        return []
    uid = obj["metadata"]["uid"]
    try:
        records = stack.emulator.control.requests(path_prefix="/v1/evaluation/jobs")
    except httpx.HTTPError:
        return []
    ours = [r for r in records if _mentions(r, uid)]
    t0 = ours[0]["time"] if ours else 0.0
    return [
        f"  +{r['time'] - t0:6.2f}s {r['method']} {r['path']}?{r['query'][:40]} "
        f"-> {r['status']} fault={r['fault']} took={r['duration_ms']}ms"
        for r in ours
    ]


def _mentions(record: dict[str, Any], uid: str) -> bool:
    body = record.get("body") or {}
    tagged = isinstance(body, dict) and (body.get("custom_fields") or {}).get("evaljob_uid")
    return tagged == uid or uid in (record.get("query") or "")


class Ledger:
    """Per-scenario tallies for the terminal summary and tests/faults/.last-run.json."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tallies: dict[str, Tally] = {}

    def record(self, result: Tally) -> None:
        self.tallies[result.scenario] = result
        payload = {
            "scenarios": [asdict(t) for t in self.tallies.values()],
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with contextlib.suppress(OSError):
            self.path.write_text(json.dumps(payload, indent=2) + "\n")

    def lines(self) -> list[str]:
        return [t.line() for t in self.tallies.values()]

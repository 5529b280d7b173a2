"""What the bench reads: /proc, Prometheus endpoints and the emulator's request log.

Every figure comes from outside the code under test where possible: kube-apiserver counts the
writes, the emulator counts the NeMo requests, the kernel counts memory and CPU. The operator's
own counters are only a cross-check.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
from prometheus_client.parser import text_string_to_metric_families

from nemo_evaluator_operator.constants import CUSTOM_FIELD_EVALJOB_UID

__all__ = [
    "WRITE_VERBS",
    "PollingFigures",
    "ProcUsage",
    "WriteKey",
    "apiserver_writes",
    "count_failures",
    "count_routes",
    "counter_totals",
    "delta",
    "is_lookup",
    "polling_figures",
    "proc_usage",
    "route_template",
    "scrape",
]

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY", "DELETECOLLECTION"})
JOBS_PATH = "/v1/evaluation/jobs"
_JOB_GET = re.compile(r"^/v1/evaluation/jobs/[^/]+$")
_TWO_PART = {"configs": "{namespace}/{config_name}", "targets": "{namespace}/{target_name}"}
_ONE_PART = {"jobs": "{job_id}", "results": "{result_id}", "namespaces": "{namespace}"}

K = TypeVar("K")
WriteKey = tuple[str, str, str]  # ("group/resource[/subresource]", verb, HTTP code)


# --------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcUsage:
    """A process's peak resident memory and CPU time so far."""

    peak_rss_bytes: int
    rss_bytes: int
    cpu_seconds: float


def proc_usage(pid: int) -> ProcUsage:
    """VmHWM/VmRSS from /proc/<pid>/status and utime+stime from /proc/<pid>/stat."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat.rsplit(")", 1)[1].split()  # the name may contain spaces
    utime, stime = int(after_name[11]), int(after_name[12])  # fields 14 and 15 of stat(5)
    ticks = os.sysconf("SC_CLK_TCK")
    return ProcUsage(
        peak_rss_bytes=_kib(fields["VmHWM"]),
        rss_bytes=_kib(fields["VmRSS"]),
        cpu_seconds=(utime + stime) / ticks,
    )


def _kib(value: str) -> int:
    number, unit = value.split()
    if unit != "kB":
        raise ValueError(f"unexpected /proc unit {unit!r}")
    return int(number) * 1024


# --------------------------------------------------------------------------- Prometheus


def scrape(url: str, token: str | None = None, verify: str | bool = True) -> str:
    """The text exposition of one /metrics endpoint (raises on any non-200)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, verify=verify, timeout=30.0, trust_env=False)
    response.raise_for_status()
    return response.text


def _samples(text: str, family: str) -> Iterable[tuple[dict[str, str], float]]:
    for metric in text_string_to_metric_families(text):
        if metric.name != family:
            continue
        for sample in metric.samples:
            if sample.name == f"{family}_total" or sample.name == family:
                yield sample.labels, float(sample.value)


def apiserver_writes(text: str) -> dict[WriteKey, float]:
    """``apiserver_request_total`` for write verbs, per resource/subresource, verb and code."""
    wanted = "\n".join(line for line in text.splitlines() if "apiserver_request_total" in line)
    totals: defaultdict[WriteKey, float] = defaultdict(float)
    for labels, value in _samples(wanted, "apiserver_request"):
        verb = labels.get("verb", "")
        if verb not in WRITE_VERBS:
            continue
        group = labels.get("group") or "core"
        resource = f"{group}/{labels.get('resource', '?')}"
        if labels.get("subresource"):
            resource += f"/{labels['subresource']}"
        totals[(resource, verb, labels.get("code", "?"))] += value
    return totals


def counter_totals(text: str, family: str, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """A counter family summed over every label not in ``keys``."""
    totals: defaultdict[tuple[str, ...], float] = defaultdict(float)
    for labels, value in _samples(text, family):
        totals[tuple(labels.get(key, "") for key in keys)] += value
    return totals


def delta(after: Mapping[K, float], before: Mapping[K, float]) -> dict[K, int]:
    """Counter differences, without the keys that did not move."""
    moved = {key: round(after[key] - before.get(key, 0.0)) for key in after}
    return {key: value for key, value in moved.items() if value}


# --------------------------------------------------------------------------- NeMo requests


def route_template(path: str) -> str:
    """``/v1/evaluation/jobs/eval-123/results`` → ``/v1/evaluation/jobs/{job_id}/results``."""
    parts = path.strip("/").split("/")
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        out.append(part)
        i += 1
        if i < len(parts) and part in _TWO_PART:
            out.append(_TWO_PART[part])
            i += 2
        elif i < len(parts) and part in _ONE_PART:
            out.append(_ONE_PART[part])
            i += 1
    return "/" + "/".join(out)


def _filter_keys(query: str) -> str:
    """``filter[status]=x&filter[custom_fields][k]=y`` → ``status,custom_fields.k``."""
    keys = sorted(
        key.removeprefix("filter[").removesuffix("]").replace("][", ".")
        for key, _ in parse_qsl(query)
        if key.startswith("filter[")
    )
    return ",".join(keys)


def _route_key(record: Mapping[str, Any]) -> str:
    route = route_template(record["path"])
    if record["method"] == "GET" and record["path"] == JOBS_PATH:
        route += f" ?filter={_filter_keys(record.get('query') or '') or '-'}"
    return f"{record['method']} {route}"


def is_lookup(record: Mapping[str, Any]) -> bool:
    """A job list filtered on one EvalJob's UID tag: finding its jobs, not polling."""
    return CUSTOM_FIELD_EVALJOB_UID in _filter_keys(record.get("query") or "")


def count_routes(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Requests by ``METHOD route-template``; job lists also by the filters they used."""
    return Counter(_route_key(r) for r in records)


def count_failures(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Requests answered with anything but 2xx (or not at all), by ``METHOD route status``."""
    return Counter(
        f"{r['method']} {route_template(r['path'])} {r.get('status')}"
        for r in records
        if not 200 <= int(r.get("status") or 0) < 300
    )


@dataclass(frozen=True)
class PollingFigures:
    """How many job reads a client made per poll interval, against how many jobs were active.

    Time is cut into poll-interval bins from the first job create to the last request. A job
    is active for ``active_seconds`` (the emulator's phases before ``completed``) after its
    create request arrived. ``peak_active`` is the most jobs active throughout one bin; the
    busy bins are those with at least 90% of that peak. ``reads_per_active_job`` is
    (list calls + per-job GETs) / sum of active jobs over all bins: 1.0 for a client that GETs
    every job every interval, far below 1 for one that lists. Lists filtered on one EvalJob's
    UID (``lookups``: finding that EvalJob's jobs) are not polling and are counted apart.
    """

    interval_s: float
    peak_active: int
    busy_intervals: int
    busy_lists_per_interval: float
    busy_job_gets_per_interval: float
    lists_per_interval: float
    list_calls: int
    lookups: int
    job_gets: int
    reads_per_active_job: float


def polling_figures(
    records: Sequence[Mapping[str, Any]], interval: float, active_seconds: float
) -> PollingFigures:
    """List calls (``GET /v1/evaluation/jobs``) and per-job GETs, per ``interval``."""
    creates = sorted(r["time"] for r in records if r["method"] == "POST" and r["path"] == JOBS_PATH)
    if not creates:
        raise ValueError("no job was created: nothing to measure")
    listed = [r for r in records if r["method"] == "GET" and r["path"] == JOBS_PATH]
    lists = [r["time"] for r in listed if not is_lookup(r)]
    gets = [r["time"] for r in records if r["method"] == "GET" and _JOB_GET.match(r["path"])]
    start = creates[0]
    bins = max(1, math.ceil((max(r["time"] for r in records) - start) / interval))
    edges = list(itertools.pairwise(start + b * interval for b in range(bins + 1)))
    active = [_active_at(creates, (a + b) / 2, active_seconds) for a, b in edges]
    whole = [_active_throughout(creates, a, b, active_seconds) for a, b in edges]
    list_bins = _binned(lists, start, interval, bins)
    get_bins = _binned(gets, start, interval, bins)
    peak = max(whole)
    busy = [b for b in range(bins) if whole[b] >= 0.9 * peak] if peak else []
    return PollingFigures(
        interval_s=interval,
        peak_active=peak,
        busy_intervals=len(busy),
        busy_lists_per_interval=_mean(list_bins[b] for b in busy),
        busy_job_gets_per_interval=_mean(get_bins[b] for b in busy),
        lists_per_interval=len(lists) / bins,
        list_calls=len(lists),
        lookups=len(listed) - len(lists),
        job_gets=len(gets),
        reads_per_active_job=(len(lists) + len(gets)) / max(1, sum(active)),
    )


def _active_at(creates: Sequence[float], moment: float, active_seconds: float) -> int:
    """Jobs created in (moment - active_seconds, moment]; ``creates`` is sorted."""
    return bisect.bisect_right(creates, moment) - bisect.bisect_right(
        creates, moment - active_seconds
    )


def _active_throughout(
    creates: Sequence[float], begin: float, end: float, active_seconds: float
) -> int:
    """Jobs active during all of [begin, end]: created by ``begin``, not done before ``end``."""
    return bisect.bisect_right(creates, begin) - bisect.bisect_left(creates, end - active_seconds)


def _binned(times: Iterable[float], start: float, interval: float, bins: int) -> list[int]:
    counts = [0] * bins
    for moment in times:
        index = int((moment - start) // interval)
        if 0 <= index < bins:
            counts[index] += 1
    return counts


def _mean(values: Iterable[int]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0

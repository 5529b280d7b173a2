"""Turn the figures into a table on stdout and a Markdown + JSON file under bench/results/."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.support.controlplane import REPO_ROOT

from .cases import Params, SizeFigures
from .scenarios import LongJobFigures, RestartFigures

__all__ = ["Extras", "machine", "render_extras", "render_markdown", "render_table", "write_results"]


@dataclasses.dataclass
class Extras:
    """The figures beyond N: restarts and the long job (any may be missing)."""

    restarts: list[RestartFigures] = dataclasses.field(default_factory=list)
    long: LongJobFigures | None = None


Row = tuple[str, Callable[[SizeFigures], float | int | None], str]

SUMMARY: list[Row] = [
    ("EvalJobs created in Kubernetes (s)", lambda s: s.operator.applied_s, "{:.1f}"),
    ("operator: all submitted (s)", lambda s: s.operator.submitted_s, "{:.1f}"),
    ("floor: all submitted (s)", lambda s: s.floor.submitted_s, "{:.1f}"),
    ("ratio operator/floor, submitted", lambda s: s.ratios["submitted"], "{:.2f}"),
    ("operator: all results (s)", lambda s: s.operator.results_s, "{:.1f}"),
    ("floor: all results (s)", lambda s: s.floor.results_s, "{:.1f}"),
    ("ratio operator/floor, results", lambda s: s.ratios["results"], "{:.2f}"),
    ("operator: NeMo requests", lambda s: sum(s.operator.nemo_requests.values()), "{:d}"),
    ("floor: NeMo requests", lambda s: sum(s.floor.nemo_requests.values()), "{:d}"),
    ("NeMo jobs active at once, peak (operator)",
     lambda s: s.operator.polling.peak_active, "{:d}"),
    ("operator: job lists / interval, busy", lambda s: s.operator.polling.busy_lists_per_interval,
     "{:.1f}"),
    ("operator: job look-ups by EvalJob UID, whole run", lambda s: s.operator.polling.lookups,
     "{:d}"),
    ("operator: per-job GETs / interval, busy",
     lambda s: s.operator.polling.busy_job_gets_per_interval, "{:.1f}"),
    ("operator: job reads per active job per interval",
     lambda s: s.operator.polling.reads_per_active_job, "{:.3f}"),
    ("NeMo jobs active at once, peak (floor)", lambda s: s.floor.polling.peak_active, "{:d}"),
    ("floor: job lists / interval, busy", lambda s: s.floor.polling.busy_lists_per_interval,
     "{:.1f}"),
    ("floor: job reads per active job per interval",
     lambda s: s.floor.polling.reads_per_active_job, "{:.3f}"),
    ("Kubernetes writes by the operator", lambda s: s.operator.operator_writes, "{:d}"),
    ("  per EvalJob", lambda s: s.operator.writes_per_evaljob, "{:.2f}"),
    ("operator peak RSS (MiB)", lambda s: s.operator.peak_rss_mib, "{:.0f}"),
    ("operator CPU seconds, run", lambda s: s.operator.cpu_seconds, "{:.1f}"),
    ("operator CPU seconds, incl. start-up", lambda s: s.operator.cpu_seconds_total, "{:.1f}"),
    ("kube-apiserver + etcd CPU seconds, run", lambda s: s.operator.plane_cpu_seconds, "{:.1f}"),
]  # fmt: skip


def _cell(value: float | int | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _summary_rows(sizes: Sequence[SizeFigures]) -> list[list[str]]:
    return [[label, *(_cell(get(s), fmt) for s in sizes)] for label, get, fmt in SUMMARY]


def render_table(sizes: Sequence[SizeFigures]) -> str:
    """A plain-text table for stdout, one column per N."""
    header = ["figure", *(f"N={s.n}" for s in sizes)]
    rows = [header, *_summary_rows(sizes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _extra_rows(extras: Extras) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in extras.restarts:
        what = f"restart, {r.n} {r.case} EvalJobs"
        total = sum(r.nemo_requests.values())
        rows.append([f"{what}: seconds until all indexed", f"{r.indexed_s:.1f}"])
        rows.append([f"{what}: NeMo requests in {r.window_s:.0f}s", str(total)])
        rows.append([f"{what}:   of them the start-up probe", str(r.probe_requests)])
        if r.first_interval_requests is not None:
            rows.append([
                f"{what}: NeMo requests up to the end of the first poll interval "
                f"(target {r.bound})",
                str(r.first_interval_requests),
            ])  # fmt: skip
        rows.append([f"{what}: Kubernetes writes", str(r.operator_writes)])
        rows.append([f"{what}: peak RSS (MiB)", f"{r.peak_rss_mib:.0f}"])
    if extras.long is not None:
        lj = extras.long
        label = f"{lj.k} EvalJobs, {lj.running_s / 60:.0f}-minute jobs"
        rows.append([f"{label}: all results (s)", f"{lj.results_s:.0f}"])
        rows.append([f"{label}: Kubernetes writes per EvalJob", f"{lj.writes_per_evaljob:.1f}"])
        rows.append([
            f"{label}:   of them status writes", f"{lj.status_writes_per_evaljob:.1f}"
        ])  # fmt: skip
    return rows


def render_extras(extras: Extras) -> str:
    """The restart and long-job figures as lines for stdout."""
    rows = _extra_rows(extras)
    if not rows:
        return ""
    width = max(len(row[0]) for row in rows)
    return "\n" + "\n".join(f"{row[0].ljust(width)}  {row[1]:>8}" for row in rows)


def _extras_markdown(extras: Extras) -> list[str]:
    rows = _extra_rows(extras)
    if not rows:
        return []
    lines = ["## Restarts and long jobs", "", *_md_table(["figure", "value"], rows), ""]
    for r in extras.restarts:
        lines += _keyed_table(
            f"Restart with {r.n} {r.case} EvalJobs: NeMo requests by route",
            {"count": r.nemo_requests},
        )
        lines += _keyed_table(
            f"Restart with {r.n} {r.case} EvalJobs: Kubernetes writes", {"count": r.kube_writes}
        )
    if extras.long is not None:
        lines += _keyed_table(
            f"{extras.long.k} EvalJobs with ten-minute jobs: Kubernetes writes",
            {"count": extras.long.kube_writes},
        )
    return lines


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---", *("---:" for _ in header[1:])]
    return [f"| {' | '.join(r)} |" for r in (header, align, *rows)]


def _keyed_table(title: str, columns: dict[str, dict[str, int]]) -> list[str]:
    keys = sorted({key for column in columns.values() for key in column})
    rows = [[f"`{key}`", *(str(col.get(key, 0)) for col in columns.values())] for key in keys]
    return [f"#### {title}", "", *_md_table(["", *columns], rows), ""]


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _or_none(counts: dict[str, int]) -> str:
    return ", ".join(f"`{key}` x{value}" for key, value in counts.items()) or "none"


def _details(size: SizeFigures) -> list[str]:
    op, floor = size.operator, size.floor
    lines = [f"### N = {size.n}", ""]
    lines += _keyed_table(
        "NeMo requests by route (emulator log; operator counters as a cross-check)",
        {
            "operator": op.nemo_requests,
            "operator's own counter": op.counters,
            "floor (SDK)": floor.nemo_requests,
        },
    )
    lines += _keyed_table(
        "Kubernetes API writes by resource, verb and HTTP code "
        "(kube-apiserver `apiserver_request_total`)",
        {"count": op.kube_writes},
    )
    lines += [
        f"The {size.n} `evaljobs POST` are the bench's own creates; leases are kube-apiserver's "
        f"own. Operator writes: **{op.operator_writes}** "
        f"({op.writes_per_evaljob:.2f} per EvalJob). Submissions by the operator's counter: "
        f"{op.submissions}. Floor polls: {floor.polls}.",
        "",
        "Non-2xx NeMo responses: operator run (emulator log) "
        f"{_or_none(op.nemo_failures)}; operator's counter {_or_none(op.counter_failures)}; "
        f"floor {_or_none(floor.nemo_failures)}.",
        "",
    ]
    return lines


def render_markdown(
    sizes: Sequence[SizeFigures],
    params: Params,
    info: dict[str, Any],
    wall_s: float,
    failure: str | None = None,
    extras: Extras | None = None,
) -> str:
    """The results file: machine, parameters, summary, then the detail per N."""
    lines = [f"# `make bench` results, {info['date']}", ""]
    if failure:
        lines += [f"**Incomplete: {_one_line(failure)}** Only the sizes below finished.", ""]
    lines += [
        "Produced by `make bench` (bench/README.md explains every figure). Times are seconds "
        "from the first EvalJob create (operator) or the first job create (floor). Other work "
        "shared the machine, so compare ratios within this file rather than absolute times "
        "across files.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in info.items() if key != "date"),
        "",
        "## Parameters",
        "",
        f"- N: {', '.join(str(n) for n in params.sizes)}",
        f"- poll interval: {params.poll_interval:g} s (operator `OPERATOR_POLL_INTERVAL` and "
        "floor)",
        f"- emulator phases: `{params.phases}`",
        f"- create workers: {params.workers} (EvalJobs and floor jobs); floor page size: "
        f"{params.page_size}",
        f"- settle after the last result: {params.settle:g} s; timeout per run: "
        f"{params.timeout:g} s",
        f"- wall time of the whole bench: {wall_s:.0f} s",
        "",
        "## Summary",
        "",
        *_md_table(["figure", *(f"N={s.n}" for s in sizes)], _summary_rows(sizes)),
        "",
        *_extras_markdown(extras or Extras()),
        "## Details",
        "",
    ]
    for size in sizes:
        lines += _details(size)
    return "\n".join(lines)


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / (1024 * 1024)
    return 0.0


def _commit() -> str:
    """HEAD, flagged when the code under test differs from it."""
    head = _command("git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD")
    dirty = _command("git", "-C", str(REPO_ROOT), "status", "--porcelain", "operator", "emulator")
    return f"{head} (with uncommitted changes in operator/ or emulator/)" if dirty else head


def machine(kubernetes_version: str) -> dict[str, Any]:
    """What the figures depend on: cores, memory, versions, load when the bench started."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory": f"{_memory_gib():.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "kubernetes": kubernetes_version,
        "kopf": metadata.version("kopf"),
        "nemo-microservices SDK": metadata.version("nemo-microservices"),
        "commit": _commit(),
        "load average at start": load,
    }


def write_results(
    out_dir: Path,
    sizes: Sequence[SizeFigures],
    params: Params,
    info: dict[str, Any],
    wall_s: float,
    failure: str | None = None,
    extras: Extras | None = None,
) -> tuple[Path, Path]:
    """Write ``<date>-n<sizes>.md`` and ``.json``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    extras = extras or Extras()
    stem = f"{info['date']}-n{'-'.join(str(s.n) for s in sizes)}"
    md, js = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    md.write_text(render_markdown(sizes, params, info, wall_s, failure, extras) + "\n")
    payload = {
        "failure": failure,
        "machine": info,
        "params": dataclasses.asdict(params),
        "wall_seconds": wall_s,
        "sizes": [dataclasses.asdict(s) for s in sizes],
        "restarts": [dataclasses.asdict(r) for r in extras.restarts],
        "long_jobs": dataclasses.asdict(extras.long) if extras.long else None,
    }
    js.write_text(json.dumps(payload, indent=2) + "\n")
    return md, js

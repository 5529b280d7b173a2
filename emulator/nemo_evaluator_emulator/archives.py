"""ZIP archives for `/download-results` and `/logs` (small but valid)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from .clock import iso
from .lifecycle import Timeline, transitions

__all__ = ["log_lines", "logs_zip", "results_zip"]


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k == "api_key" and v else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def log_lines(job_id: str, tl: Timeline, now: float) -> str:
    """One line per state change so far."""
    lines = [
        f"{iso(o.since)} job={job_id} status={o.status} message={o.message or ''}"
        for o in transitions(tl, now)
    ]
    return "\n".join(lines) + "\n"


def logs_zip(job_id: str, tl: Timeline, now: float) -> bytes:
    """The job's log archive."""
    return _zip({f"logs/{job_id}.log": log_lines(job_id, tl, now)})


def results_zip(job: dict[str, Any], results: dict[str, Any], logs: str) -> bytes:
    """The results directory: results, the job's config and target (keys redacted), and logs."""
    return _zip(
        {
            "results/results.json": json.dumps(results, indent=2),
            "config.json": json.dumps(_redact(job["config"]), indent=2),
            "target.json": json.dumps(_redact(job["target"]), indent=2),
            "logs/evaluation.log": logs,
        }
    )

"""Batched Helix reads: the jobs of a workspace by name, a hundred per request.

`filter={"name": {"$in": [...]}}` returns each named job whatever its state, so finished jobs
cost nothing extra and there is no per-job read; Helix's `total_results` (wrong with some
filters) is never needed, since a chunk never holds more jobs than its page.
"""

from __future__ import annotations

from collections.abc import Collection

from ..errors import EvaluatorError
from .client import HelixClient
from .models import HelixJob

__all__ = ["read_jobs"]


async def read_jobs(
    client: HelixClient, workspace: str, names: Collection[str], chunk: int = 100
) -> tuple[dict[str, HelixJob], set[str], dict[str, EvaluatorError]]:
    """`(found, missing, failed)` for the named jobs; raises when every request failed."""
    wanted = sorted(set(names))
    found: dict[str, HelixJob] = {}
    failed: dict[str, EvaluatorError] = {}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        try:
            page = await client.list_jobs(workspace, where={"name": {"$in": part}}, page_size=chunk)
        except EvaluatorError as err:
            failed.update(dict.fromkeys(part, err))
            continue
        found.update({job.name: job for job in page.data if job.name in part})
    if wanted and len(failed) == len(wanted):
        raise next(iter(failed.values()))
    missing = set(wanted) - set(found) - set(failed)
    return found, missing, failed

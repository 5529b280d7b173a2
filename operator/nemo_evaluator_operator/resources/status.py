"""The one place that writes the status of our objects.

Every write is cut to the CRD's bounds first. If the API server still refuses one (422), the
object gets a minimal status that says so, with the server's words, instead of the operator
silently giving up on it: the next write tries the full status again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..constants import Cond, Reason
from ..errors import KubernetesError
from ..reconcile.bounds import bound_benchmark_status, bound_evaljob_status, cap
from ..reconcile.conditions import now_iso
from .kube import KubeResources

__all__ = ["StatusWriter"]

Rejected = Callable[[str, str], None]
"""Told (kind, reason) whenever the API server refused a status write."""


class StatusWriter:
    """Bounded status patches for EvalJobs and Benchmarks, with a fallback on 422."""

    def __init__(self, kube: KubeResources, on_rejected: Rejected | None = None) -> None:
        self._kube = kube
        self._on_rejected = on_rejected

    async def evaljob(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        resource_version: str | None = None,
        generation: int | None = None,
    ) -> str:
        """Patch an EvalJob's status; returns the new resourceVersion."""
        try:
            return await self._kube.patch_evaljob_status(
                namespace, name, bound_evaljob_status(status), resource_version
            )
        except KubernetesError as err:
            if err.status != 422:
                raise
            self._rejected("EvalJob")
            return await self._kube.patch_evaljob_status(
                namespace, name, _refused(err.message, generation)
            )

    async def benchmark(
        self, namespace: str, name: str, status: dict[str, Any], generation: int | None = None
    ) -> str:
        """Patch a Benchmark's status; returns the new resourceVersion."""
        try:
            return await self._kube.patch_benchmark_status(
                namespace, name, bound_benchmark_status(status)
            )
        except KubernetesError as err:
            if err.status != 422:
                raise
            self._rejected("Benchmark")
            refused = _refused(err.message, generation)
            refused.pop("message")  # a Benchmark's status has conditions only
            return await self._kube.patch_benchmark_status(namespace, name, refused)

    def _rejected(self, kind: str) -> None:
        if self._on_rejected is not None:
            self._on_rejected(kind, Reason.STATUS_REJECTED)


def _refused(detail: str, generation: int | None) -> dict[str, Any]:
    """The smallest status that tells why the full one could not be written."""
    message = cap(f"The API server refused the operator's status update: {detail}", 4096)
    stamp = now_iso()
    conditions = [
        {"type": kind, "status": value, "reason": Reason.STATUS_REJECTED, "message": text,
         "lastTransitionTime": stamp, **({"observedGeneration": generation} if generation else {})}
        for kind, value, text in (
            (Cond.RECONCILING, "True", message),
            (Cond.READY, "False", message),
            (Cond.STALLED, "False", ""),
        )
    ]  # fmt: skip
    return {"message": message, "conditions": conditions}

"""Which evaluator API to speak: from the setting, or probed once (`auto`).

A URL that serves neither API gets one line at start and an adapter that answers every call
with `UnsupportedAPIError`, which the reconcilers turn into an `UnsupportedEvaluatorAPI`
condition, instead of a silent loop of 404s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import (
    EvaluatorAPIError,
    EvaluatorConnectionError,
    EvaluatorError,
    UnsupportedAPIError,
    is_transient,
)
from .helix.adapter import HelixEvaluator
from .helix.client import HEALTH as HELIX_HEALTH
from .helix.client import HelixClient
from .port import (
    BenchmarkDefinition,
    BenchmarkSyncResult,
    EvaluatorAPI,
    EvaluatorPort,
    JobBatch,
    JobObservation,
    JobRef,
    JobResults,
    Owner,
    SubmitRequest,
)
from .transport import HttpTransport
from .v1.adapter import V1Evaluator
from .v1.client import JOBS as V1_JOBS
from .v1.client import V1Client

__all__ = ["ApiChoice", "Probe", "SelectedEvaluator", "probe_api"]

log = logging.getLogger(__name__)

ApiChoice = Literal["v1", "helix", "auto"]
REPROBE = 60.0
"""Seconds before a URL that served neither API is probed again."""


@dataclass(frozen=True)
class Probe:
    """What the URL serves: an API, or why none (`transient` when it could not be told)."""

    api: EvaluatorAPI | None
    reason: str
    transient: bool = False


async def probe_api(transport: HttpTransport) -> Probe:
    """Ask for each API's cheapest read; the first that answers 2xx is the one served."""
    answers: list[str] = []
    transient = False
    checks: list[tuple[EvaluatorAPI, str, list[tuple[str, str]]]] = [
        ("helix", HELIX_HEALTH, []),
        ("v1", V1_JOBS, [("page_size", "1")]),
    ]
    for api, route, params in checks:
        try:
            await transport.request("GET", route, params=params)
        except EvaluatorError as err:
            transient = transient or is_transient(err)
            status = err.status_code if isinstance(err, EvaluatorAPIError) else err.message
            answers.append(f"GET {route} -> {status}")
            continue
        return Probe(api, f"GET {route} answered")
    reason = (
        f"{transport.base_url} serves neither NeMo Helix (/apis/evals) nor NeMo "
        f"Microservices v1 (/v1/evaluation): {'; '.join(answers)}"
    )
    return Probe(None, reason, transient=transient)


class SelectedEvaluator:
    """The port, delegating to the adapter the setting (or the probe) chose.

    With `auto`, the first call probes; while the evaluator cannot be reached every call fails
    with that transient error (and the next call probes again), so the operator never guesses.
    """

    def __init__(
        self,
        transport: HttpTransport,
        choice: ApiChoice,
        build: Callable[[EvaluatorAPI], EvaluatorPort],
    ) -> None:
        self._transport = transport
        self._choice = choice
        self._build = build
        self._adapter: EvaluatorPort | None = None
        self._unsupported: str | None = None
        self._unsupported_at = 0.0
        self._lock = asyncio.Lock()
        self.probe: Probe | None = None

    @classmethod
    def over_http(
        cls,
        transport: HttpTransport,
        choice: ApiChoice,
        *,
        page_size: int = 100,
        create_workspaces: bool = True,
    ) -> SelectedEvaluator:
        """The usual wiring: one transport shared by whichever adapter is chosen."""

        def build(api: EvaluatorAPI) -> EvaluatorPort:
            if api == "helix":
                return HelixEvaluator(
                    HelixClient(transport), page_size=page_size, create_workspaces=create_workspaces
                )
            return V1Evaluator(V1Client(transport), page_size=page_size)

        return cls(transport, choice, build)

    @property
    def adapter(self) -> EvaluatorPort | None:
        return self._adapter

    async def start(self) -> Probe:
        """Probe once (also for an explicit choice, to say at start if the URL disagrees)."""
        probe = await probe_api(self._transport)
        self.probe = probe
        self._unsupported = None
        if probe.transient and probe.api is None:
            if self._choice != "auto":
                self._adapter = self._build(self._choice)
            log.warning("NeMo evaluator not reachable yet (%s); will probe again", probe.reason)
            return probe
        if self._choice == "auto":
            if probe.api is None:
                self._unsupported = probe.reason
            else:
                self._adapter = self._build(probe.api)
        elif probe.api not in (None, self._choice):
            self._unsupported = (
                f"NEMO_EVALUATOR_API={self._choice}, but {self._transport.base_url} serves "
                f"{_title(probe.api)}"
            )
        elif probe.api is None:
            self._unsupported = probe.reason
        else:
            self._adapter = self._build(self._choice)
        if self._unsupported:
            self._unsupported_at = time.monotonic()
            log.error("Unsupported evaluator: %s", self._unsupported)
        else:
            log.info("Speaking %s at %s", _title(self.api), self._transport.base_url)
        return probe

    def _should_probe(self) -> bool:
        if self._adapter is not None:
            return False
        # An unsupported answer is probed again now and then: the URL may be mid-rollout.
        return self._unsupported is None or time.monotonic() - self._unsupported_at > REPROBE

    async def _resolved(self) -> EvaluatorPort:
        if self._should_probe():
            async with self._lock:
                if self._should_probe():
                    await self.start()
        if self._unsupported is not None:
            raise UnsupportedAPIError(self._unsupported)
        if self._adapter is None:
            reason = self.probe.reason if self.probe else "not probed"
            raise EvaluatorConnectionError(reason, method="GET", path="(API probe)")
        return self._adapter

    @property
    def api(self) -> EvaluatorAPI:
        return self._adapter.api if self._adapter else "v1"

    @property
    def idempotent_submit(self) -> bool:
        """Before the API is known, assume the stricter v1 protocol."""
        return self._adapter.idempotent_submit if self._adapter else False

    def job_id_for(self, owner: Owner) -> str | None:
        return self._adapter.job_id_for(owner) if self._adapter else None

    def target_problem(self, target: dict[str, Any]) -> str | None:
        return self._adapter.target_problem(target) if self._adapter else None

    async def sync_benchmark(self, definition: BenchmarkDefinition) -> BenchmarkSyncResult:
        return await (await self._resolved()).sync_benchmark(definition)

    async def delete_benchmark(self, definition: BenchmarkDefinition) -> None:
        await (await self._resolved()).delete_benchmark(definition)

    async def submit(self, request: SubmitRequest) -> JobObservation:
        return await (await self._resolved()).submit(request)

    async def find_jobs(self, namespace: str, owner: Owner) -> Sequence[JobObservation]:
        return await (await self._resolved()).find_jobs(namespace, owner)

    async def observe(self, ref: JobRef) -> JobObservation:
        return await (await self._resolved()).observe(ref)

    async def observe_many(self, refs: Collection[JobRef]) -> JobBatch:
        return await (await self._resolved()).observe_many(refs)

    async def drifted(self, definitions: Collection[BenchmarkDefinition]) -> set[str]:
        return await (await self._resolved()).drifted(definitions)

    async def cancel(self, ref: JobRef) -> None:
        await (await self._resolved()).cancel(ref)

    async def delete(self, ref: JobRef) -> None:
        await (await self._resolved()).delete(ref)

    async def results(self, ref: JobRef) -> JobResults:
        return await (await self._resolved()).results(ref)

    async def release(self, namespace: str, owner: Owner) -> None:
        await (await self._resolved()).release(namespace, owner)


def _title(api: EvaluatorAPI | None) -> str:
    return {"v1": "NeMo Microservices v1", "helix": "NeMo Helix"}.get(api or "", "nothing")

"""The control API under `/_proxy/`: health, fault rules, outages and the request log.

These routes are served by the proxy itself: never forwarded, never faulted, never recorded,
so a test can always reach them, also during an outage. Bad bodies get FastAPI's 422. Every
route is `async`, so it runs on the event loop that also applies the faults (no threads).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Response

from . import __version__
from .recorder import RequestLog
from .rules import FaultBook, FaultSpec, OutageSpec

__all__ = ["create_control_app"]


def create_control_app(faults: FaultBook, log: RequestLog, upstream: str) -> FastAPI:
    """The control routes around the proxy's shared fault book and request log."""
    app = FastAPI(title="fault proxy control", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/_proxy/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "upstream": upstream, "version": __version__}

    @app.post("/_proxy/reset")
    async def reset() -> dict[str, Any]:
        """No rules, no outage, an empty request log (from seq 1), the RNG back at its seed."""
        faults.reset()
        log.reset()
        return {"reset": True}

    @app.get("/_proxy/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [rule.to_json() for rule in faults.rules]}

    @app.post("/_proxy/faults", status_code=201)
    async def add_fault(spec: FaultSpec) -> dict[str, Any]:
        return faults.add(spec).to_json()

    @app.delete("/_proxy/faults")
    async def clear_faults() -> dict[str, Any]:
        return {"deleted": faults.clear()}

    @app.delete("/_proxy/faults/{rule_id}", status_code=204)
    async def remove_fault(rule_id: str) -> Response:
        if not faults.remove(rule_id):
            raise HTTPException(404, f"no fault rule {rule_id}")
        return Response(status_code=204)

    @app.get("/_proxy/outage")
    async def get_outage() -> dict[str, Any]:
        return {"outage": faults.outage_json()}

    @app.post("/_proxy/outage")
    async def start_outage(spec: OutageSpec | None = None) -> dict[str, Any]:
        """`{"seconds": N | null, "mode": "status" | "drop", "status": 503}`; no body: defaults."""
        faults.start_outage(spec or OutageSpec())
        return {"outage": faults.outage_json()}

    @app.delete("/_proxy/outage")
    async def end_outage() -> dict[str, Any]:
        return {"ended": faults.end_outage()}

    @app.get("/_proxy/requests")
    async def requests(
        method: str | None = None, path_prefix: str | None = None, since: int = 0
    ) -> dict[str, Any]:
        return {"data": log.query(method, path_prefix, since)}

    @app.delete("/_proxy/requests")
    async def clear_requests() -> dict[str, Any]:
        return {"deleted": log.clear()}

    return app

"""`EmulatorControl`: a small synchronous client for the `/_emulator` test-control API.

control = EmulatorControl("http://127.0.0.1:7331")
control.set_phase_seconds(running=30)
control.fail_next(2, "Error connecting to inference server")
control.add_fault("POST", "/v1/evaluation/jobs", status=503, count=1)
control.requests(method="POST", path_prefix="/v1/evaluation/jobs")
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

__all__ = ["EmulatorControl"]


class EmulatorControl:
    """Drive a running emulator from a test (one httpx.Client; close() or use as a context)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _call(
        self, verb: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        response = self._http.request(verb, f"/_emulator{path}", json=body, params=params)
        response.raise_for_status()
        return response.json()

    def healthy(self) -> bool:
        """Whether `/health` answers 200 (False on any error, including injected faults)."""
        try:
            return self._http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def state(self) -> dict[str, Any]:
        """Settings, clock, failure queue, faults, outage and entity counts."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def reset(self, keep_data: bool = False) -> None:
        """Back to startup settings, real clock, no faults, empty request log (and no data)."""
        self._call("POST", "/reset", {"keep_data": keep_data})

    def settings(self) -> dict[str, Any]:
        """The current behaviour settings."""
        result: dict[str, Any] = self._call("GET", "/settings")
        return result

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour switches, e.g. `cancel_terminal="noop"`, `unknown_ref_status=422`."""
        result: dict[str, Any] = self._call("PATCH", "/settings", changes)
        return result

    def set_phase_seconds(self, **phases: float) -> dict[str, Any]:
        """Server-wide phase durations for jobs created from now on (created/pending/...)."""
        return self.update_settings(phase_seconds=phases)

    def fail_next(
        self, count: int = 1, message: str = "Error connecting to inference server",
        phase: Literal["pending", "running"] = "running",
    ) -> None:  # fmt: skip
        """Make the next `count` created jobs fail with `message`."""
        self._call("POST", "/fail-next", {"count": count, "message": message, "phase": phase})

    def add_fault(self, method: str = "*", path: str = "*", **spec: Any) -> str:
        """Add a fault rule (status, probability, count, latency_seconds, should_retry,
        retry_after, drop, detail); returns its id."""
        rule: dict[str, Any] = self._call(
            "POST", "/faults", {"method": method, "path": path, **spec}
        )
        return str(rule["id"])

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules with their hit counts."""
        result: list[dict[str, Any]] = self._call("GET", "/faults")["data"]
        return result

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def outage(
        self, seconds: float, mode: Literal["status", "drop"] = "status", status: int = 503
    ) -> None:
        """Fail every non-control request for `seconds` of wall time."""
        self._call("POST", "/outage", {"seconds": seconds, "mode": mode, "status": status})

    def end_outage(self) -> None:
        self._call("DELETE", "/outage")

    def requests(
        self, method: str | None = None, path_prefix: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        """Recorded API requests (method, path, query, headers, body, status, fault)."""
        query = {"method": method, "path_prefix": path_prefix, "since": since}
        found: list[dict[str, Any]] = self._call("GET", "/requests", query=query)["data"]
        return found

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def clock(self) -> dict[str, Any]:
        """`{now, epoch, frozen, offset_seconds}`."""
        result: dict[str, Any] = self._call("GET", "/clock")
        return result

    def freeze(self) -> None:
        """Stop the emulator clock: every job stays in its current state."""
        self._call("POST", "/clock/freeze")

    def unfreeze(self) -> None:
        self._call("POST", "/clock/unfreeze")

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward (jobs progress accordingly)."""
        self._call("POST", "/clock/advance", {"seconds": seconds})

    def job(self, job_id: str) -> dict[str, Any]:
        """The job as clients see it, plus its timeline."""
        result: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        return result

    def set_job_phases(self, job_id: str, **phases: float) -> dict[str, Any]:
        """Change one job's phase durations (its timeline is recomputed from its creation)."""
        result: dict[str, Any] = self._call("PATCH", f"/jobs/{job_id}", {"phase_seconds": phases})
        return result

    def set_job_padding(self, job_id: str, padding_bytes: int) -> dict[str, Any]:
        """Grow one job's results JSON by about `padding_bytes`."""
        body = {"results_padding_bytes": padding_bytes}
        result: dict[str, Any] = self._call("PATCH", f"/jobs/{job_id}", body)
        return result

    def force_job(
        self,
        job_id: str,
        status: Literal["completed", "failed", "cancelled"],
        message: str | None = None,
    ) -> dict[str, Any]:
        """End an active job now with `status` (and `status_details.message`)."""
        result: dict[str, Any] = self._call(
            "POST", f"/jobs/{job_id}/force", {"status": status, "message": message}
        )
        return result

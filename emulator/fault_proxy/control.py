"""`FaultProxyControl`: a small synchronous client for the proxy's `/_proxy` control API.

control = FaultProxyControl("http://127.0.0.1:18090")
control.add_fault("status", "/apis/evals/v2/", method="POST", status=503, count=1)
control.add_fault("drop_after", "/apis/evals/v2/workspaces/default/evaluate/jobs", "POST")
control.outage(10)
control.requests(method="POST", path_prefix="/apis/evals/")
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from .rules import Action

__all__ = ["FaultProxyControl"]


class FaultProxyControl:
    """Drive a running proxy from a test (one httpx.Client; close() or use as a context)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def __enter__(self) -> FaultProxyControl:
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
        response = self._http.request(verb, f"/_proxy{path}", json=body, params=params)
        response.raise_for_status()
        return None if response.status_code == 204 else response.json()

    def healthy(self) -> bool:
        """Whether the proxy itself answers (upstream is not asked)."""
        try:
            return self._http.get("/_proxy/health").status_code == 200
        except httpx.HTTPError:
            return False

    def reset(self) -> None:
        """No rules, no outage, an empty request log, the RNG back at the `--seed`."""
        self._call("POST", "/reset")

    def add_fault(
        self, action: Action, path: str = "/", method: str | None = None, **spec: Any
    ) -> str:
        """Add a rule (see rules.FaultSpec: status, body, detail, preset, retry_after, seconds,
        probability, count, after, path_regex, ...); returns its id."""
        body = {"action": action, "path": path, "method": method, **spec}
        rule: dict[str, Any] = self._call("POST", "/faults", body)
        return str(rule["id"])

    def faults(self) -> list[dict[str, Any]]:
        """The rules in order, with `matched`, `fired`, `remaining` and `spent`."""
        found: list[dict[str, Any]] = self._call("GET", "/faults")["data"]
        return found

    def fault(self, rule_id: str) -> dict[str, Any]:
        """One rule by id (KeyError if there is none)."""
        for rule in self.faults():
            if rule["id"] == rule_id:
                return rule
        raise KeyError(rule_id)

    def remove_fault(self, rule_id: str) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def outage(
        self,
        seconds: float | None = None,
        mode: Literal["status", "drop"] = "status",
        status: int = 503,
    ) -> None:
        """Fail every forwarded request for `seconds` (None: until end_outage())."""
        self._call("POST", "/outage", {"seconds": seconds, "mode": mode, "status": status})

    def outage_state(self) -> dict[str, Any] | None:
        """The outage in force (`mode`, `status`, `seconds_left`), or None."""
        state: dict[str, Any] | None = self._call("GET", "/outage")["outage"]
        return state

    def end_outage(self) -> None:
        self._call("DELETE", "/outage")

    def requests(
        self, method: str | None = None, path_prefix: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        """Logged requests, oldest first (seq, method, path, query, status, fault, ...)."""
        query = {"method": method, "path_prefix": path_prefix, "since": since}
        found: list[dict[str, Any]] = self._call("GET", "/requests", query=query)["data"]
        return found

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

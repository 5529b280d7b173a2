"""A small in-memory Helix behind `httpx.MockTransport`, shaped after the real 0.8.1 answers
(see ../shared/docs/helix-captures). Fast unit tests only; the real server is tested too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from nemo_evaluator_operator.evaluator.helix.adapter import HelixEvaluator
from nemo_evaluator_operator.evaluator.helix.client import HelixClient
from nemo_evaluator_operator.evaluator.transport import HttpTransport

__all__ = ["FakeHelix", "helix_port"]

ACTIVE = {"created", "pending", "active", "cancelling", "paused", "pausing", "resuming"}


@dataclass
class FakeHelix:
    workspaces: set[str] = field(default_factory=lambda: {"default"})
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    live_answer: tuple[int, Any] = (200, {"output": "x", "metrics": []})
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = urlparse(str(request.url))
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, url.path, body))
        return self._route(request.method, url.path, parse_qs(url.query), body)

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, _ in self.requests if method is None or m == method]

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> httpx.Response:
        if path == "/apis/evals/v1/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/apis/entities/v2/workspaces" and method == "POST":
            if body["name"] in self.workspaces:
                return _detail(409, f"Workspace '{body['name']}' already exists")
            self.workspaces.add(body["name"])
            return httpx.Response(201, json={"name": body["name"]})
        if m := re.fullmatch(r"/apis/entities/v2/workspaces/([^/]+)", path):
            if m.group(1) in self.workspaces:
                return httpx.Response(200, json={"name": m.group(1)})
            return _detail(404, f"Workspace '{m.group(1)}' not found")
        if m := re.fullmatch(r"/apis/secrets/v2/workspaces/([^/]+)/secrets(?:/([^/]+))?", path):
            return self._secret(method, m.group(1), m.group(2), body)
        if m := re.fullmatch(r"/apis/evals/v2/workspaces/([^/]+)/evaluate/(.*)", path):
            return self._evals(method, m.group(1), m.group(2), query, body)
        return _detail(404, "Not Found")

    def _secret(self, method: str, ws: str, name: str | None, body: Any) -> httpx.Response:
        if method == "POST":
            if (ws, body["name"]) in self.secrets:
                return _detail(409, f"Secret '{ws}/{body['name']}' already exists")
            self.secrets[(ws, body["name"])] = body["value"]
            return httpx.Response(201, json={"name": body["name"], "workspace": ws})
        key = (ws, name or "")
        if key not in self.secrets:
            return _detail(404, f"Secret {ws}/{name} not found")
        if method == "PATCH":
            self.secrets[key] = body["value"]
            return httpx.Response(200, json={"name": name})
        if method == "DELETE":
            del self.secrets[key]
            return httpx.Response(204)
        return httpx.Response(200, json={"name": name})

    def _evals(
        self, method: str, ws: str, rest: str, query: dict[str, list[str]], body: Any
    ) -> httpx.Response:
        if ws not in self.workspaces:
            return _detail(404, f"Workspace '{ws}' not found")
        if rest == "live":
            status, answer = self.live_answer
            return httpx.Response(status, json=answer)
        if rest == "jobs" and method == "POST":
            return self._create(ws, body)
        if rest == "jobs":
            return self._list(ws, query)
        parts = rest.split("/")
        key = (ws, parts[1])
        job = self.jobs.get(key)
        if job is None:
            return _detail(404, f"Job '{parts[1]}' not found in workspace '{ws}'.")
        if len(parts) == 2 and method == "DELETE":
            if job["status"] in ACTIVE:
                return _detail(409, "Job is not in a terminal state")
            del self.jobs[key]
            return httpx.Response(204)
        if len(parts) == 2:
            return httpx.Response(200, json=job)
        if parts[2] == "cancel":
            if job["status"] in ACTIVE:
                job["status"] = "cancelling"
            return httpx.Response(200, json=job)
        if parts[2] == "status":
            stack = self.errors.get(key)
            tasks = [{"error_stack": stack}] if stack else [{"error_stack": None}]
            return httpx.Response(
                200, json={**job, "steps": [{"name": "evaluate", "tasks": tasks}]}
            )
        if parts[2] == "results":
            document = self.results.get(key)
            if document is None:
                return _detail(404, f"Result '{parts[3]}' not found")
            return httpx.Response(200, content=json.dumps(document).encode())
        return _detail(404, "Not Found")

    def _create(self, ws: str, body: dict[str, Any]) -> httpx.Response:
        name = body["name"]
        secret = body["spec"]["target"].get("api_key_secret")
        if secret and (ws, secret) not in self.secrets:
            return _detail(
                409,
                "Unable to create job because one or more referenced secrets were not found "
                "or are not accessible.",
            )
        if (ws, name) in self.jobs:
            return _detail(409, f"Job '{name}' already exists in workspace '{ws}'.")
        job = {
            "id": f"platform-job-{len(self.jobs) + 1}",
            "name": name,
            "workspace": ws,
            "status": "created",
            "status_details": {},
            "custom_fields": {**body.get("custom_fields", {}), "_nemo_telemetry": {}},
            "created_at": "2026-12-01T21:38:33.203125",
            "spec": body["spec"],
        }
        self.jobs[(ws, name)] = job
        return httpx.Response(201, json=job)

    def _list(self, ws: str, query: dict[str, list[str]]) -> httpx.Response:
        where = json.loads(query.get("filter", ["{}"])[0])
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", ["10"])[0])
        jobs = [j for (w, _), j in self.jobs.items() if w == ws and _matches(j, where)]
        chunk = jobs[(page - 1) * size : page * size]
        return httpx.Response(
            200,
            json={
                "data": chunk,
                "pagination": {"page": page, "page_size": size, "total_results": len(self.jobs)},
            },
        )


def _matches(job: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, cond in where.items():
        value = job.get(key)
        if "$like" in cond and cond["$like"] not in str(value):
            return False
        if "$in" in cond and value not in cond["$in"]:
            return False
    return True


def _detail(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail})


def helix_port(fake: FakeHelix, **options: Any) -> HelixEvaluator:
    http = httpx.AsyncClient(base_url="http://helix.test", transport=httpx.MockTransport(fake))
    return HelixEvaluator(HelixClient(HttpTransport(http)), **options)

"""Async client for the NeMo Helix calls the operator makes (evals, secrets, workspaces)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from ..errors import EvaluatorResponseError
from ..transport import HttpTransport, json_body, parse_model
from .models import HelixJob, HelixJobPage, HelixJobStatus

__all__ = ["HelixClient"]

HEALTH = "/apis/evals/v1/healthz"
WORKSPACES = "/apis/entities/v2/workspaces"
WORKSPACE = "/apis/entities/v2/workspaces/{workspace}"
JOBS = "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs"
JOB = "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}"
JOB_STATUS = "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/status"
JOB_CANCEL = "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/cancel"
JOB_RESULT = "/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/results/{result}/download"
LIVE = "/apis/evals/v2/workspaces/{workspace}/evaluate/live"
SECRETS = "/apis/secrets/v2/workspaces/{workspace}/secrets"
SECRET = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}"
FILESET_FILES = "/apis/files/v2/workspaces/{workspace}/filesets/{name}/files"


class HelixClient:
    """Typed calls to NeMo Helix; every failure is an `EvaluatorError` subclass."""

    def __init__(self, transport: HttpTransport) -> None:
        self._transport = transport

    async def _request(
        self,
        method: str,
        route: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json: Any = None,
        **path_params: str,
    ) -> httpx.Response:
        return await self._transport.request(method, route, params=params, json=json, **path_params)

    async def health(self) -> None:
        """Raise unless the evals plugin's health check answers 2xx."""
        await self._request("GET", HEALTH)

    async def get_workspace(self, workspace: str) -> dict[str, Any]:
        response = await self._request("GET", WORKSPACE, workspace=workspace)
        return _object(response, "GET", WORKSPACE)

    async def create_workspace(self, workspace: str, description: str) -> None:
        """Create a workspace; one that exists raises `ConflictError`."""
        body = {"name": workspace, "description": description}
        await self._request("POST", WORKSPACES, json=body)

    async def create_job(self, workspace: str, body: dict[str, Any]) -> HelixJob:
        """Start a job; a taken name (or a missing referenced secret) raises `ConflictError`."""
        response = await self._request("POST", JOBS, json=body, workspace=workspace)
        return parse_model(HelixJob, response, "POST", JOBS)

    async def get_job(self, workspace: str, name: str) -> HelixJob:
        response = await self._request("GET", JOB, workspace=workspace, name=name)
        return parse_model(HelixJob, response, "GET", JOB)

    async def get_job_status(self, workspace: str, name: str) -> HelixJobStatus:
        response = await self._request("GET", JOB_STATUS, workspace=workspace, name=name)
        return parse_model(HelixJobStatus, response, "GET", JOB_STATUS)

    async def list_jobs(
        self,
        workspace: str,
        *,
        where: Mapping[str, Any],
        page: int = 1,
        page_size: int = 100,
    ) -> HelixJobPage:
        """One page of jobs matching a JSON filter (e.g. ``{"name": {"$in": [...]}}``)."""
        params = [
            ("filter", json.dumps(where, separators=(",", ":"))),
            ("page", str(page)),
            ("page_size", str(page_size)),
            ("sort", "-created_at"),
        ]
        response = await self._request("GET", JOBS, params=params, workspace=workspace)
        return parse_model(HelixJobPage, response, "GET", JOBS)

    async def iter_jobs(
        self, workspace: str, *, where: Mapping[str, Any], page_size: int = 100
    ) -> AsyncIterator[HelixJob]:
        """Every matching job, page by page, until a page comes back empty or short.

        `total_results` ignores a status filter (Helix 0.8.1), so it is not trusted.
        """
        page = 1
        seen: set[str] = set()
        while True:
            result = await self.list_jobs(workspace, where=where, page=page, page_size=page_size)
            fresh = [job for job in result.data if job.name not in seen]
            if not fresh:  # empty, or a server that ignores `page`
                return
            for job in fresh:
                seen.add(job.name)
                yield job
            if len(result.data) < page_size:
                return
            page += 1

    async def cancel_job(self, workspace: str, name: str) -> None:
        """Ask for cancellation (asynchronous; a terminal job answers 200 and stays as it is)."""
        await self._request("POST", JOB_CANCEL, workspace=workspace, name=name)

    async def delete_job(self, workspace: str, name: str) -> None:
        """Delete a terminal job; an active or cancelling one raises `ConflictError`."""
        await self._request("DELETE", JOB, workspace=workspace, name=name)

    async def download_result(self, workspace: str, name: str, result: str) -> dict[str, Any]:
        """A result document (`evaluation-results`, `aggregate-scores`) as JSON."""
        response = await self._request(
            "GET", JOB_RESULT, workspace=workspace, name=name, result=result
        )
        return _object(response, "GET", JOB_RESULT)

    async def evaluate_live(self, workspace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Score one row synchronously (how a definition is checked before any job runs)."""
        response = await self._request("POST", LIVE, json=body, workspace=workspace)
        return _object(response, "POST", LIVE)

    async def create_secret(self, workspace: str, name: str, value: str) -> None:
        """Store a secret; one that exists raises `ConflictError`. The value is never echoed."""
        body = {"name": name, "value": value, "description": "nemo-evaluator-operator"}
        await self._request("POST", SECRETS, json=body, workspace=workspace)

    async def update_secret(self, workspace: str, name: str, value: str) -> None:
        await self._request("PATCH", SECRET, json={"value": value}, workspace=workspace, name=name)

    async def delete_secret(self, workspace: str, name: str) -> None:
        await self._request("DELETE", SECRET, workspace=workspace, name=name)

    async def list_fileset_files(self, workspace: str, fileset: str) -> list[str]:
        """The paths in a fileset (raises `NotFoundError` when the fileset does not exist)."""
        response = await self._request("GET", FILESET_FILES, workspace=workspace, name=fileset)
        data = _object(response, "GET", FILESET_FILES).get("data")
        items = data if isinstance(data, list) else []
        return [str(item.get("path")) for item in items if isinstance(item, dict)]


def _object(response: httpx.Response, method: str, route: str) -> dict[str, Any]:
    data = json_body(response, method, route)
    if not isinstance(data, dict):
        raise EvaluatorResponseError(f"{method} {route} returned a non-object JSON body")
    return data

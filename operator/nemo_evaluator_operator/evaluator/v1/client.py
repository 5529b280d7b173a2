"""Async client for the NeMo Microservices v1 evaluation API (configs and jobs).

Typed calls over the shared `HttpTransport`; every failure is an `EvaluatorError` subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Self

import httpx

from ..errors import EvaluatorResponseError
from ..transport import HttpTransport, encode_filters, json_body, parse_model
from .models import ConfigPage, EvaluationConfig, EvaluationJob, JobPage

__all__ = ["V1Client"]

HEALTH = "/health"
CONFIGS = "/v1/evaluation/configs"
CONFIG = "/v1/evaluation/configs/{namespace}/{config_name}"
JOBS = "/v1/evaluation/jobs"
JOB = "/v1/evaluation/jobs/{job_id}"
JOB_CANCEL = "/v1/evaluation/jobs/{job_id}/cancel"
JOB_RESULTS = "/v1/evaluation/jobs/{job_id}/results"


class V1Client:
    """Typed calls to the v1 API; every failure is an `EvaluatorError` subclass."""

    def __init__(self, transport: HttpTransport) -> None:
        self._transport = transport

    @classmethod
    def from_settings(cls, base_url: str, **options: Any) -> Self:
        """A client with its own transport (see `HttpTransport.from_settings`), for scripts."""
        return cls(HttpTransport.from_settings(base_url, **options))

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def health(self) -> None:
        """Raise unless ``GET /health`` answers 2xx."""
        await self._request("GET", HEALTH)

    async def create_config(self, body: dict[str, Any]) -> EvaluationConfig:
        """Create a config; a taken (namespace, name) raises `ConflictError`."""
        response = await self._request("POST", CONFIGS, json=body)
        return parse_model(EvaluationConfig, response, "POST", CONFIGS)

    async def get_config(self, namespace: str, name: str) -> EvaluationConfig:
        """Read one config by namespace and name."""
        response = await self._request("GET", CONFIG, namespace=namespace, config_name=name)
        return parse_model(EvaluationConfig, response, "GET", CONFIG)

    async def update_config(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> EvaluationConfig:
        """PATCH a config with the given fields."""
        response = await self._request(
            "PATCH", CONFIG, json=body, namespace=namespace, config_name=name
        )
        return parse_model(EvaluationConfig, response, "PATCH", CONFIG)

    async def list_configs(
        self, *, filters: Mapping[str, str] | None = None, page: int = 1, page_size: int = 100
    ) -> ConfigPage:
        """One page of configs; filter keys use dots for nesting (``custom_fields.x``)."""
        params = [
            *encode_filters(filters or {}),
            ("page", str(page)),
            ("page_size", str(page_size)),
        ]
        response = await self._request("GET", CONFIGS, params=params)
        return parse_model(ConfigPage, response, "GET", CONFIGS)

    async def delete_config(self, namespace: str, name: str) -> None:
        """Delete a config; a missing one raises `NotFoundError`."""
        await self._request("DELETE", CONFIG, namespace=namespace, config_name=name)

    async def create_job(self, body: dict[str, Any]) -> EvaluationJob:
        """Start a job. Sent exactly once: the service does not deduplicate job creates."""
        response = await self._request("POST", JOBS, json=body)
        return parse_model(EvaluationJob, response, "POST", JOBS)

    async def get_job(self, job_id: str) -> EvaluationJob:
        """Read one job, including `status` and `status_details`."""
        response = await self._request("GET", JOB, job_id=job_id)
        return parse_model(EvaluationJob, response, "GET", JOB)

    async def list_jobs(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        search: Mapping[str, str] | None = None,
        page: int = 1,
        page_size: int = 100,
        sort: str = "-created_at",
    ) -> JobPage:
        """One page of jobs; filter keys use dots for nesting (``custom_fields.uid``)."""
        params = [*encode_filters(filters or {}), *encode_filters(search or {}, "search")]
        params += [("page", str(page)), ("page_size", str(page_size)), ("sort", sort)]
        response = await self._request("GET", JOBS, params=params)
        return parse_model(JobPage, response, "GET", JOBS)

    async def iter_jobs(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        search: Mapping[str, str] | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[EvaluationJob]:
        """Every job matching `filters` (and `search`), page by page, until the last page."""
        page = 1
        previous_ids: list[str] | None = None
        while True:
            result = await self.list_jobs(
                filters=filters, search=search, page=page, page_size=page_size
            )
            ids = [job.id for job in result.data]
            if not ids or ids == previous_ids:  # empty, or a server that ignores `page`
                return
            for job in result.data:
                yield job
            if _is_last_page(result, page, page_size):
                return
            previous_ids = ids
            page += 1

    async def find_jobs(self, custom_field: str, value: str) -> list[EvaluationJob]:
        """Jobs whose ``custom_fields[custom_field] == value``.

        The server filters, and each job is checked again here: a server that ignores the
        filter must not make the operator adopt somebody else's job.
        """
        if not custom_field or "." in custom_field or "[" in custom_field:
            raise ValueError(f"invalid custom field name: {custom_field!r}")
        filters = {f"custom_fields.{custom_field}": value}
        return [
            job
            async for job in self.iter_jobs(filters=filters)
            if job.custom_fields.get(custom_field) == value
        ]

    async def cancel_job(self, job_id: str) -> None:
        """Ask the service to cancel a job (it moves through `cancelling`)."""
        await self._request("POST", JOB_CANCEL, json={}, job_id=job_id)

    async def delete_job(self, job_id: str) -> None:
        """Delete a job record; any 2xx (200 or 204) is success."""
        await self._request("DELETE", JOB, job_id=job_id)

    async def get_results(self, job_id: str) -> dict[str, Any]:
        """The raw results JSON object of a completed job."""
        response = await self._request("GET", JOB_RESULTS, job_id=job_id)
        data = json_body(response, "GET", JOB_RESULTS)
        if not isinstance(data, dict):
            raise EvaluatorResponseError(f"GET {JOB_RESULTS} returned a non-object JSON body")
        return data

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


def _is_last_page(page: JobPage, number: int, page_size: int) -> bool:
    """True when pagination says so or, without pagination, when the page is short."""
    if page.pagination is None:
        return len(page.data) < page_size
    total = page.pagination.total_pages
    return total is not None and number >= total

"""Evaluator response models: documented payloads parse, odd ones are tolerated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nemo_evaluator_operator.evaluator.port import JobState
from nemo_evaluator_operator.evaluator.states import STATES, job_state
from nemo_evaluator_operator.evaluator.v1.models import (
    EvaluationConfig,
    EvaluationJob,
    JobPage,
    Pagination,
    StatusDetails,
)

# nemo-evaluator-api.md §8, "Job response".
DOC_JOB: dict[str, Any] = {
    "id": "eval-9ZqK",
    "namespace": "team-a",
    "created_at": "2025-09-08T19:20:32.655254",
    "updated_at": "2025-09-08T19:20:33.000000",
    "config": {"id": "c-1", "type": "custom", "name": "qa-bleu", "namespace": "team-a"},
    "target": {"id": "t-1", "type": "model", "name": "llama-8b", "namespace": "team-a"},
    "status": "created",
    "status_details": {
        "message": None,
        "progress": None,
        "samples_processed": 0,
        "task_status": {},
    },
    "output_files_url": None,
    "result": None,
    "custom_fields": {},
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *STATES["v1"].items(),
        ("RUNNING", JobState.RUNNING),
        (" completed ", JobState.SUCCEEDED),
        ("active", JobState.UNKNOWN),  # v2 vocabulary is not v1
        ("paused", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
        (None, JobState.UNKNOWN),
    ],
)
def test_job_status_parse(raw: str | None, expected: JobState) -> None:
    assert job_state("v1", raw) is expected


def test_documented_job_parses() -> None:
    job = EvaluationJob.model_validate(DOC_JOB)
    assert job.id == "eval-9ZqK"
    assert job_state("v1", job.status) is JobState.QUEUED
    assert job.status_details.samples_processed == 0
    assert isinstance(job.config, dict)
    assert job.config["name"] == "qa-bleu"
    assert job.model_extra == {"output_files_url": None}


@pytest.mark.parametrize(
    ("changes", "status", "state"),
    [
        ({"status": "running"}, "running", JobState.RUNNING),
        ({"status": "error"}, "error", JobState.UNKNOWN),
        ({"status": None}, "unknown", JobState.UNKNOWN),
        ({"status": 3}, "3", JobState.UNKNOWN),
        ({}, "created", JobState.QUEUED),
    ],
)
def test_job_status_is_kept_raw(changes: dict[str, Any], status: str, state: JobState) -> None:
    job = EvaluationJob.model_validate({**DOC_JOB, **changes})
    assert job.status == status
    assert job_state("v1", job.status) is state


def test_minimal_job_gets_defaults() -> None:
    job = EvaluationJob.model_validate({"id": "eval-1"})
    assert job.status == "unknown"
    assert job_state("v1", job.status) is JobState.UNKNOWN
    assert job.status_details == StatusDetails()
    assert job.custom_fields == {}
    assert job.config is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("status_details", None, StatusDetails()),
        ("custom_fields", None, {}),
        ("config", "team-a/qa-bleu", "team-a/qa-bleu"),
        ("target", "team-a/llama-8b", "team-a/llama-8b"),
    ],
)
def test_job_tolerates_null_and_string_references(field: str, value: Any, expected: Any) -> None:
    job = EvaluationJob.model_validate({**DOC_JOB, field: value})
    assert getattr(job, field) == expected


def test_job_without_id_is_rejected() -> None:
    with pytest.raises(ValidationError, match="id"):
        EvaluationJob.model_validate({"status": "running"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "message": "Job is running",
                "task_status": {"question-answering": "running"},
                "progress": 42.5,
                "samples_processed": 85,
            },
            StatusDetails(
                message="Job is running",
                task_status={"question-answering": "running"},
                progress=42.5,
                samples_processed=85,
            ),
        ),
        (
            {"message": "Job completed successfully", "task_status": {}, "progress": None},
            StatusDetails(message="Job completed successfully"),
        ),
        ({"task_status": None}, StatusDetails()),
        ({}, StatusDetails()),
    ],
    ids=["running", "completed", "null-task-status", "empty"],
)
def test_status_details(body: dict[str, Any], expected: StatusDetails) -> None:
    assert StatusDetails.model_validate(body) == expected


def test_config_keeps_extras_and_requires_type() -> None:
    config = EvaluationConfig.model_validate(
        {"type": "custom", "name": "qa", "tasks": {"qa": {"type": "completion"}}, "project": "p"}
    )
    assert config.tasks == {"qa": {"type": "completion"}}
    assert config.model_extra == {"project": "p"}
    assert config.custom_fields == {}
    with pytest.raises(ValidationError, match="type"):
        EvaluationConfig.model_validate({"name": "qa"})


@pytest.mark.parametrize(
    ("body", "ids", "pagination"),
    [
        (
            {
                "object": "list",
                "data": [DOC_JOB],
                "pagination": {
                    "page": 1,
                    "page_size": 10,
                    "current_page_size": 1,
                    "total_pages": 1,
                    "total_results": 1,
                },
                "sort": "-created_at",
            },
            ["eval-9ZqK"],
            Pagination(page=1, page_size=10, current_page_size=1, total_pages=1, total_results=1),
        ),
        (
            {"data": [], "pagination": {"page": 5, "page_size": 10}},
            [],
            Pagination(page=5, page_size=10),
        ),
        ({"data": None}, [], None),
        ({}, [], None),
    ],
    ids=["full", "past-end", "null-data", "empty"],
)
def test_job_page(body: dict[str, Any], ids: list[str], pagination: Pagination | None) -> None:
    page = JobPage.model_validate(body)
    assert [job.id for job in page.data] == ids
    assert page.pagination == pagination

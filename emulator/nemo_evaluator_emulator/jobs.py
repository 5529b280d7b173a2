"""Evaluation jobs: create (resolving references), view, cancel, delete, force, results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from .catalog import ACADEMIC_TYPES
from .clock import iso
from .core import Emulator
from .errors import ApiError, validation_error
from .ids import JOB_PREFIX, RESULT_PREFIX, new_id
from .lifecycle import TERMINAL, Observation, Timeline, observe, status_details
from .overrides import JobOverrides, read_overrides
from .results import build_results, samples_total, task_names
from .schemas import JobCreate
from .store import EntityTable, JobRecord

__all__ = [
    "cancel_job",
    "create_job",
    "delete_job",
    "force_job",
    "job_result",
    "job_view",
    "observe_job",
    "refuse_academic",
    "resolve_reference",
]

_JOB_FIELDS = {
    "namespace",
    "project",
    "description",
    "custom_fields",
    "ownership",
    "output_files_url",
}


def _split_ref(ref: str) -> tuple[str, str]:
    namespace, sep, name = ref.partition("/")
    return (namespace, name) if sep else ("default", ref)


def _unknown_ref(emu: Emulator, field: str, kind: str, ref: str) -> Exception:
    message = f"Evaluation {kind} {ref} not found"
    status = emu.settings.unknown_ref_status
    if status == 422:
        return validation_error(("body", field), message, "value_error", ref)
    return ApiError(status, message)


def resolve_reference(
    emu: Emulator, field: str, table: EntityTable, value: str | BaseModel
) -> dict[str, Any]:
    """A `"namespace/name"` string (or a bare name in `default`, or an id) -> the stored object."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    namespace, name = _split_ref(value)
    for entity in table:
        if (entity["namespace"], entity["name"]) == (namespace, name) or entity["id"] == value:
            return dict(entity)
    raise _unknown_ref(emu, field, table.kind, value)


def _timeline(emu: Emulator, overrides: JobOverrides) -> Timeline:
    timeline = Timeline(
        created_ts=emu.now(), phases=emu.settings.phase_seconds.merged(overrides.phases)
    )
    planned = emu.take_failure()
    if planned is not None:
        timeline.fail_message, timeline.fail_phase = planned.message, planned.phase
    elif overrides.fail_message is not None:
        timeline.fail_message = overrides.fail_message
    return timeline


def refuse_academic(emu: Emulator, config_type: str | None, *loc: str) -> None:
    """`academic_types: reject`: a deployment that runs custom evaluations only says 422."""
    if emu.settings.academic_types == "reject" and config_type in ACADEMIC_TYPES:
        raise validation_error(
            ("body", *loc, "type"),
            f"Evaluation type '{config_type}' is not available in this deployment; "
            "define a 'custom' evaluation with tasks and metrics instead",
            "value_error",
            config_type,
        )


def create_job(emu: Emulator, body: JobCreate) -> dict[str, Any]:
    """Resolve config and target, store a new job in `created`, return its JSON."""
    overrides = read_overrides(body.custom_fields)  # a 422 comes before any lookup
    fields = body.model_dump(mode="json", include=_JOB_FIELDS)
    fields["config"] = resolve_reference(emu, "config", emu.store.configs, body.config)
    refuse_academic(emu, fields["config"].get("type"), "config")
    fields["target"] = resolve_reference(emu, "target", emu.store.targets, body.target)
    fields["namespace"] = fields.get("namespace") or "default"
    fields["custom_fields"] = fields.get("custom_fields") or {}
    record = JobRecord(
        id=new_id(JOB_PREFIX),
        seq=emu.store.next_seq(),
        body=fields,
        result_id=new_id(RESULT_PREFIX),
        timeline=_timeline(emu, overrides),
        task_names=task_names(fields["config"]),
        samples_total=samples_total(fields["config"], fields["target"]),
        padding_bytes=overrides.padding_bytes,
    )
    emu.store.jobs[record.id] = record
    emu.store.changed()
    return job_view(emu, record)


def observe_job(emu: Emulator, record: JobRecord) -> Observation:
    """The job's state now."""
    return observe(record.timeline, emu.now())


def _limit_samples(record: JobRecord) -> int | None:
    params = record.body["config"].get("params") or {}
    limit = params.get("limit_samples")
    return int(limit) if limit else None


def job_view(emu: Emulator, record: JobRecord) -> dict[str, Any]:
    """The EvaluationJob JSON, with status computed from the clock."""
    obs = observe_job(emu, record)
    details = status_details(obs, record.task_names, record.samples_total, _limit_samples(record))
    has_result = obs.status == "completed" and not record.result_deleted
    return {
        "id": record.id,
        **record.body,
        "created_at": iso(record.timeline.created_ts),
        "updated_at": iso(obs.since),
        "status": obs.status,
        "status_details": details,
        "result": record.result_id if has_result else None,
    }


def cancel_job(emu: Emulator, job_id: str) -> dict[str, Any]:
    """Ask for cancellation: `cancelling`, then `cancelled`; terminal jobs per settings."""
    record = emu.store.job(job_id)
    obs = observe_job(emu, record)
    if obs.status in TERMINAL:
        mode = emu.settings.cancel_terminal
        if mode != "noop":
            raise ApiError(
                int(mode),
                f"Evaluation job {job_id} is already {obs.status} and cannot be cancelled",
            )
    elif obs.status != "cancelling":
        record.timeline.cancel_ts = emu.now()
        emu.store.changed()
    return job_view(emu, record)


def delete_job(emu: Emulator, job_id: str) -> None:
    """Delete a job (and its result); an active job only when settings allow it."""
    record = emu.store.job(job_id)
    obs = observe_job(emu, record)
    if obs.status not in TERMINAL and emu.settings.delete_running == "refuse":
        raise ApiError(
            409, f"Evaluation job {job_id} is {obs.status}; cancel it before deleting it"
        )
    del emu.store.jobs[job_id]
    emu.store.results.pop(record.result_id, None)
    emu.store.changed()


def force_job(
    emu: Emulator,
    job_id: str,
    status: Literal["completed", "failed", "cancelled"],
    message: str | None,
) -> dict[str, Any]:
    """Control API: end an active job now with the given status."""
    record = emu.store.job(job_id)
    obs = observe_job(emu, record)
    if obs.status in TERMINAL:
        raise ApiError(409, f"Evaluation job {job_id} is already {obs.status}")
    record.timeline.forced_status = status
    record.timeline.forced_ts = emu.now()
    record.timeline.forced_message = message
    emu.store.changed()
    return job_view(emu, record)


def _early_results(emu: Emulator, record: JobRecord, status: str) -> dict[str, Any]:
    mode = emu.settings.results_before_completion
    if mode == "empty":
        now = iso(emu.now())
        return {
            "id": record.result_id,
            "job": record.id,
            "namespace": record.body["namespace"],
            "created_at": now,
            "updated_at": now,
            "files_url": None,
            "tasks": {},
            "groups": {},
        }
    raise ApiError(
        int(mode), f"Results for evaluation job {record.id} are not available: the job is {status}"
    )


def job_result(emu: Emulator, record: JobRecord) -> dict[str, Any]:
    """The job's EvaluationResult (stored if patched, else computed); early reads per settings."""
    obs = observe_job(emu, record)
    if obs.status != "completed":
        return _early_results(emu, record, obs.status)
    if record.result_deleted:
        raise ApiError(404, f"Results for evaluation job {record.id} were deleted")
    stored = emu.store.results.get(record.result_id)
    if stored is not None:
        return stored
    padding = (
        emu.settings.results_padding_bytes if record.padding_bytes is None else record.padding_bytes
    )
    return build_results(job_view(emu, record), record.result_id, iso(obs.since), padding)

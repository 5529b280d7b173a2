"""Per-job knobs read from the job's `custom_fields` (keys prefixed `emulator.`).

- `emulator.phase_seconds`: `{"running": 30}` or `"running=30,pending=0"`
- `emulator.fail_message`: the job fails in `running` with this `status_details.message`
- `emulator.results_padding_bytes`: grow the results JSON by about this many bytes

They are ordinary custom fields: stored, echoed and filterable like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import validation_error
from .settings import PHASES, parse_phase_seconds

__all__ = ["JobOverrides", "read_overrides"]

PHASE_KEY = "emulator.phase_seconds"
FAIL_KEY = "emulator.fail_message"
PADDING_KEY = "emulator.results_padding_bytes"


@dataclass(frozen=True)
class JobOverrides:
    """What a job's custom fields ask of the emulator."""

    phases: dict[str, float]
    fail_message: str | None
    padding_bytes: int | None


def _where(key: str) -> tuple[str, ...]:
    return ("body", "custom_fields", key)


def _phases(value: Any) -> dict[str, float]:
    if isinstance(value, str):
        return parse_phase_seconds(value)
    if isinstance(value, dict) and set(value) <= set(PHASES):
        return {k: float(v) for k, v in value.items()}
    raise ValueError(f"expected an object or string with phases from {PHASES}")


def _checked_phases(value: Any) -> dict[str, float]:
    try:
        phases = _phases(value)
    except (TypeError, ValueError) as exc:
        raise validation_error(_where(PHASE_KEY), str(exc), "value_error", value) from None
    if any(v < 0 for v in phases.values()):
        raise validation_error(
            _where(PHASE_KEY), "phase seconds must be >= 0", "value_error", value
        )
    return phases


def _padding(value: Any) -> int | None:
    if value is None:
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = -1
    if size < 0:
        raise validation_error(
            _where(PADDING_KEY), "expected a non-negative integer", "value_error", value
        )
    return size


def read_overrides(custom_fields: dict[str, Any] | None) -> JobOverrides:
    """Parse the `emulator.*` custom fields (422 when one is malformed)."""
    fields = custom_fields or {}
    phases = _checked_phases(fields[PHASE_KEY]) if PHASE_KEY in fields else {}
    message = fields.get(FAIL_KEY)
    return JobOverrides(
        phases, None if message is None else str(message), _padding(fields.get(PADDING_KEY))
    )

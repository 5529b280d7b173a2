"""Server-wide knobs: phase durations and the behaviour chosen for each unknown of the real API.

Every field can be set on the command line and changed at run time through
`PATCH /_emulator/settings`; see emulator/README.md for why each default was picked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PHASES",
    "AcademicTypes",
    "CancelTerminal",
    "DeleteRunning",
    "EmulatorSettings",
    "PhaseSeconds",
    "ResultsEarly",
    "parse_phase_seconds",
]

PHASES = ("created", "pending", "running", "cancelling")

ResultsEarly = Literal["404", "400", "409", "empty"]
CancelTerminal = Literal["409", "400", "noop"]
DeleteRunning = Literal["allow", "refuse"]
AcademicTypes = Literal["accept", "reject"]


class PhaseSeconds(BaseModel):
    """How long a job stays in each non-terminal state."""

    model_config = ConfigDict(extra="forbid")

    created: float = Field(default=0.5, ge=0)
    pending: float = Field(default=1.0, ge=0)
    running: float = Field(default=2.0, ge=0)
    cancelling: float = Field(default=0.5, ge=0)

    def merged(self, changes: dict[str, float]) -> PhaseSeconds:
        """A copy with some phases replaced (validated)."""
        return PhaseSeconds.model_validate({**self.model_dump(), **changes})


class EmulatorSettings(BaseModel):
    """Everything a test may want to switch while the emulator runs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    phase_seconds: PhaseSeconds = Field(default_factory=PhaseSeconds)
    unknown_ref_status: Literal[400, 404, 422] = 404
    results_before_completion: ResultsEarly = "404"
    cancel_terminal: CancelTerminal = "409"
    delete_running: DeleteRunning = "allow"
    academic_types: AcademicTypes = "accept"
    job_delete_status: Literal[200, 204] = 204
    results_padding_bytes: int = Field(default=0, ge=0)
    default_page_size: int = Field(default=10, ge=1)
    max_page_size: int = Field(default=1000, ge=1)


def parse_phase_seconds(text: str) -> dict[str, float]:
    """Parse `created=0.5,pending=1,running=2` (any subset of the phases)."""
    changes: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in PHASES:
            raise ValueError(f"expected <phase>=<seconds> with phase in {PHASES}, got {part!r}")
        changes[name] = float(value)
    return changes

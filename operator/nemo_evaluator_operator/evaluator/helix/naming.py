"""Deterministic Helix names: the job name is the idempotency key of a submission."""

from __future__ import annotations

import hashlib
import re
from typing import Final

from ..port import Owner

__all__ = ["JOB_PREFIX", "MAX_JOB_NAME", "job_name_for", "secret_name_for"]

JOB_PREFIX: Final = "ej-"
MAX_JOB_NAME: Final = 51
"""Helix's limit without `output_location` (the artifact fileset is `job-fileset-<name>`)."""

_DIGEST = 8


def _clean(text: str) -> str:
    """Only characters Helix allows, no `--` (Helix forbids it), no dash or dot at the end."""
    text = re.sub(r"[^a-z0-9.\-]", "-", text.lower())
    return re.sub(r"-{2,}", "-", text).strip("-.")


def job_name_for(owner: Owner) -> str:
    """`ej-<namespace>.<name>-<8 hex of the UID>`, shortened to fit 51 characters.

    Readable in Helix's own listings, unique per EvalJob object (the UID differs when an
    EvalJob is deleted and created again under the same name), and the same every time the
    operator computes it, so a repeated POST finds the first one (409) instead of a second job.
    """
    digest = hashlib.sha256(f"{owner.namespace}/{owner.name}/{owner.uid}".encode()).hexdigest()
    room = MAX_JOB_NAME - len(JOB_PREFIX) - _DIGEST - 1
    stem = _clean(f"{owner.namespace}.{owner.name}")[:room].rstrip("-.")
    return f"{JOB_PREFIX}{stem}-{digest[:_DIGEST]}"


def secret_name_for(owner: Owner) -> str:
    """The workspace secret holding this EvalJob's model API key (owned by the operator)."""
    return f"evaljob-{_clean(owner.uid)}"[:63].rstrip("-.")

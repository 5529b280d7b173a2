"""Bad-input cases: hostile manifests in cases/*.yaml and what each must produce.

A case file is one or more YAML documents; the last one is the subject, earlier ones
(Secrets, Benchmarks) are prerequisites that must apply cleanly. Header comments say what to
expect of the subject:

    # expect: rejected <text>            kubectl apply fails and its stderr contains <text>
    # expect: condition <Type>=<Status> reason=<Reason>
    # expect: message <text>             a condition message or status.message contains <text>
    # expect: phase <Phase>              status.phase (EvalJobs)
    # expect: absent <dotted.path>       the API server pruned this field
    # expect: secret <value>             <value> never reaches NeMo, the log, status or events
    # apply: <flag>                      an extra kubectl apply flag (e.g. --validate=false)
    # bug: <what is wrong>               a reported operator bug: runs in test_known_bugs.py

The documents are sent to kubectl verbatim (never re-serialised), so wrong types and odd
scalars reach the API server exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CASES_DIR", "Case", "ConditionExpectation", "load_cases"]

CASES_DIR = Path(__file__).resolve().parent / "cases"
_DIRECTIVE = re.compile(r"^#\s*(expect|apply|bug):\s*(.*?)\s*$")
_CONDITION = re.compile(r"^(\w+)=(True|False|Unknown)\s+reason=(\w+)$")
_SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ConditionExpectation:
    type: str
    status: str
    reason: str

    def met_by(self, conditions: dict[str, dict[str, Any]]) -> bool:
        found = conditions.get(self.type) or {}
        return found.get("status") == self.status and found.get("reason") == self.reason


@dataclass
class Case:
    """One case file, parsed."""

    path: Path
    documents: list[str]
    kind: str
    name: str
    rejected: list[str] = field(default_factory=list)
    conditions: list[ConditionExpectation] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    phase: str | None = None
    flags: list[str] = field(default_factory=list)
    bug: str | None = None

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def subject(self) -> str:
        return self.documents[-1]

    @property
    def prerequisites(self) -> list[str]:
        return self.documents[:-1]

    @property
    def expects_rejection(self) -> bool:
        return bool(self.rejected)


def _parse(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    documents = [d.strip() + "\n" for d in _SEPARATOR.split(text) if d.strip()]
    meta = yaml.safe_load(_strip_comments(documents[-1])) or {}
    case = Case(
        path,
        documents,
        kind=str(meta.get("kind")),
        name=str((meta.get("metadata") or {}).get("name")),
    )
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if match:
            _apply_directive(case, match.group(1), match.group(2))
    _validate(case)
    return case


def _strip_comments(document: str) -> str:
    return "\n".join(line for line in document.splitlines() if not line.startswith("#"))


def _apply_directive(case: Case, key: str, value: str) -> None:
    if key == "apply":
        case.flags.append(value)
    elif key == "bug":
        case.bug = value
    else:
        what, _, rest = value.partition(" ")
        _apply_expectation(case, what, rest.strip())


def _apply_expectation(case: Case, what: str, rest: str) -> None:
    if what == "rejected":
        case.rejected.append(rest)
    elif what == "condition":
        match = _CONDITION.match(rest)
        if match is None:
            raise ValueError(f"{case.path.name}: bad condition expectation {rest!r}")
        case.conditions.append(ConditionExpectation(*match.groups()))
    elif what == "message":
        case.messages.append(rest)
    elif what == "phase":
        case.phase = rest
    elif what == "absent":
        case.absent.append(rest)
    elif what == "secret":
        case.secrets.append(rest)
    else:
        raise ValueError(f"{case.path.name}: unknown expectation {what!r}")


def _validate(case: Case) -> None:
    outcomes = bool(case.rejected) + bool(case.conditions or case.absent)
    if outcomes != 1:
        raise ValueError(f"{case.path.name}: expect either rejected, or conditions/absent fields")
    if not case.path.read_text(encoding="utf-8").startswith("# "):
        raise ValueError(f"{case.path.name}: start with a one-line description comment")


def load_cases() -> list[Case]:
    """Every case, sorted by file name."""
    return [_parse(path) for path in sorted(CASES_DIR.glob("*.yaml"))]

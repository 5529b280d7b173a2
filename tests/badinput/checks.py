"""Apply a bad-input case and check its outcome; check that the operator settled afterwards."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from tests.e2e.helpers import PLURALS, conditions
from tests.faults.stack import Stack, list_objects

from .cases import Case

__all__ = [
    "Applied",
    "apply_case",
    "check_rejected",
    "check_secrets_kept",
    "nemo_requests_during",
    "resource_versions",
    "unexpected_requests",
    "wait_expected",
    "writes_during",
]


@dataclass
class Applied:
    """What kubectl said for a case's prerequisites and subject."""

    case: Case
    prerequisites: list[subprocess.CompletedProcess[str]]
    subject: subprocess.CompletedProcess[str]


def _apply(stack: Stack, document: str, flags: list[str]) -> subprocess.CompletedProcess[str]:
    argv = ["apply", "-n", stack.namespace, *flags, "-f", "-"]
    return stack.cluster.kubectl(*argv, input=document, check=False)


def apply_case(stack: Stack, case: Case) -> Applied:
    """Apply the prerequisites, then the subject, each document as written."""
    before = [_apply(stack, doc, case.flags) for doc in case.prerequisites]
    return Applied(case, before, _apply(stack, case.subject, case.flags))


def _get(stack: Stack, kind: str, name: str) -> dict[str, Any] | None:
    try:
        return stack.cluster.get(kind, name)
    except (ApiException, ValueError):
        return None


def check_rejected(stack: Stack, applied: Applied) -> None:
    """kubectl failed, its stderr names what is wrong, and nothing was stored."""
    case, result = applied.case, applied.subject
    assert result.returncode != 0, f"{case.id} was accepted:\n{result.stdout}"
    for text in case.rejected:
        assert text in result.stderr, f"{text!r} not in kubectl's error:\n{result.stderr}"
    if case.kind in PLURALS:
        assert _get(stack, case.kind, case.name) is None, f"{case.id} was stored anyway"


def _missing(obj: dict[str, Any], case: Case) -> list[str]:
    """The expectations `obj` does not meet yet."""
    conds = conditions(obj)
    status = obj.get("status", {})
    missing = [f"condition {c}" for c in case.conditions if not c.met_by(conds)]
    texts = [status.get("message") or ""] + [c.get("message") or "" for c in conds.values()]
    missing += [f"message {m!r}" for m in case.messages if not any(m in t for t in texts)]
    if case.phase is not None and status.get("phase") != case.phase:
        missing.append(f"phase {case.phase}")
    missing += [f"absent {path}" for path in case.absent if _has_path(obj, path)]
    return missing


def _has_path(obj: dict[str, Any], dotted: str) -> bool:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def wait_expected(stack: Stack, applied: Applied, timeout: float) -> dict[str, Any]:
    """The subject was accepted and reaches every expected condition, message and phase."""
    case = applied.case
    for result in applied.prerequisites:
        assert result.returncode == 0, f"prerequisite rejected: {result.stderr}"
    assert applied.subject.returncode == 0, f"{case.id} rejected: {applied.subject.stderr}"
    deadline = time.monotonic() + timeout
    while True:
        obj = _get(stack, case.kind, case.name) or {}
        missing = _missing(obj, case) if obj else ["the object itself"]
        if not missing:
            return obj
        if time.monotonic() > deadline:
            summary = {
                "status": obj.get("status"),
                "operator": stack.operator.tail(15),
            }
            raise AssertionError(f"{case.id}: still missing {missing} after {timeout}s: {summary}")
        time.sleep(0.5)


def check_secrets_kept(stack: Stack, case: Case, obj: dict[str, Any]) -> None:
    """The case's secret values appear in no NeMo request, operator log, status or event.

    The log check skips DEBUG lines: with --verbose kopf dumps whole objects, including a
    spec the user wrote the key into; the operator runs at INFO in a real deployment.
    """
    if not case.secrets:
        return
    log = [line for line in stack.operator.output().splitlines() if " DEBUG " not in line]
    places = {
        "NeMo requests": json.dumps(stack.emulator.control.requests()),
        "operator log": "\n".join(log),
        "status": json.dumps(obj.get("status", {})),
        "events": json.dumps([e.message for e in stack.cluster.events(case.name)]),
    }
    for secret in case.secrets:
        leaked = [where for where, text in places.items() if secret in text]
        assert not leaked, f"{case.id}: {secret!r} leaked into {leaked}"


def resource_versions(stack: Stack) -> dict[str, str]:
    """`Kind/name` -> resourceVersion of every Benchmark, EvalJob and ConfigMap in the namespace."""
    found = {
        f"ConfigMap/{cm.metadata.name}": str(cm.metadata.resource_version)
        for cm in stack.cluster.core.list_namespaced_config_map(stack.namespace).items
        if cm.metadata is not None
    }
    for kind, plural in PLURALS.items():
        items = list_objects(stack.cluster, plural)
        found.update(
            {f"{kind}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}
        )
    return found


def writes_during(stack: Stack, seconds: float, interval: float = 1.0) -> dict[str, list[str]]:
    """Objects whose resourceVersion changed while polling every `interval` for `seconds`."""
    first = resource_versions(stack)
    seen = {key: [rv] for key, rv in first.items()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(interval)
        for key, rv in resource_versions(stack).items():
            if seen.setdefault(key, [rv])[-1] != rv:
                seen[key].append(rv)
    return {key: rvs for key, rvs in seen.items() if len(rvs) > 1}


def nemo_requests_during(stack: Stack, since: int) -> list[dict[str, Any]]:
    """NeMo API requests the emulator recorded after sequence number `since`."""
    return stack.emulator.control.requests(since=since)


def unexpected_requests(
    requests: list[dict[str, Any]], ready_configs: set[str], max_each: int
) -> list[str]:
    """Everything but a bounded number of drift checks: one paged list of our configs each.

    `ready_configs` stays in the signature: a drift that re-syncs a Ready Benchmark shows up
    as a GET of that config, which is allowed too.
    """
    configs = "/v1/evaluation/configs"
    allowed = {configs, *(f"{configs}/{ref}" for ref in ready_configs)}
    counts = Counter(f"{r['method']} {r['path']}" for r in requests)
    problems = []
    for key, count in counts.items():
        method, path = key.split(" ", 1)
        if method == "GET" and path in allowed and count <= max_each:
            continue
        problems.append(f"{count}x {key}")
    return problems

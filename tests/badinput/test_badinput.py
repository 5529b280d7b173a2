"""Hostile manifests get a clear answer: rejected at apply, or a condition with a reason.

Every case in cases/*.yaml (except reported bugs, see test_known_bugs.py) is applied up front
against one operator process; each test then checks its case. The last test checks the
operator itself: same process throughout, no Traceback, no status written and no NeMo request
sent in a 5 s window once everything settled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.faults.stack import Stack, list_objects

from .cases import Case, load_cases
from .checks import (
    Applied,
    apply_case,
    check_rejected,
    check_secrets_kept,
    nemo_requests_during,
    unexpected_requests,
    wait_expected,
    writes_during,
)
from .conftest import GOOD_BENCHMARK

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

ALL_CASES = load_cases()
CASES = [case for case in ALL_CASES if case.bug is None]
SETTLE_SECONDS = 45.0
WINDOW_SECONDS = 5.0
DRIFT_INTERVAL = 2.0  # OPERATOR_DRIFT_INTERVAL in conftest


@dataclass
class Run:
    """The operator process the cases met, and what kubectl said for each case."""

    pid: int
    applied: dict[str, Applied]


@pytest.fixture(scope="module")
def run(stack: Stack) -> Run:
    assert stack.operator.proc is not None
    pid = stack.operator.proc.pid
    return Run(pid, {case.id: apply_case(stack, case) for case in CASES})


def test_the_suite_has_at_least_30_cases_of_both_kinds() -> None:
    assert len(ALL_CASES) >= 30
    assert {case.kind for case in ALL_CASES} >= {"Benchmark", "EvalJob"}
    assert sum(case.expects_rejection for case in ALL_CASES) >= 10
    assert sum(bool(case.conditions) for case in ALL_CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_case(case: Case, run: Run, stack: Stack) -> None:
    applied = run.applied[case.id]
    if case.expects_rejection:
        check_rejected(stack, applied)
    else:
        obj = wait_expected(stack, applied, SETTLE_SECONDS)
        check_secrets_kept(stack, case, obj)


def test_operator_survived_every_case_and_settled(run: Run, stack: Stack) -> None:
    """Same process, no Traceback, no status writes and no NeMo requests once settled."""
    for case in CASES:  # every object at its steady condition first
        if not case.expects_rejection:
            wait_expected(stack, run.applied[case.id], SETTLE_SECONDS)
    since = max((r["seq"] for r in stack.emulator.control.requests()), default=0)
    started = time.monotonic()
    changed = writes_during(stack, WINDOW_SECONDS)
    requests = nemo_requests_during(stack, since)
    elapsed = time.monotonic() - started

    operator = stack.operator
    assert operator.running, f"operator exited:\n{operator.tail()}"
    assert operator.starts == 1
    assert operator.proc is not None
    assert operator.proc.pid == run.pid
    assert "Traceback" not in operator.output(), operator.output()[-6000:]
    assert not changed, f"status kept changing over {WINDOW_SECONDS}s: {changed}"
    ready = {
        obj["status"]["configName"]
        for obj in list_objects(stack.cluster, "benchmarks")
        if any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"]["conditions"])
    }
    assert f"{stack.namespace}-{GOOD_BENCHMARK}" in " ".join(ready)
    assert requests, "no drift re-check reached NeMo in the window: is the request log empty?"
    max_each = int(elapsed / DRIFT_INTERVAL) + 2
    problems = unexpected_requests(requests, ready, max_each)
    assert not problems, f"NeMo requests in a {elapsed:.1f}s quiet window: {problems}"

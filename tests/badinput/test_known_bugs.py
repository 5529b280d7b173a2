"""Hostile inputs that once exposed operator bugs, kept apart from the main suite.

Cases marked `# bug:` in cases/*.yaml (none today) run here, xfail(strict=True), against their
own operator, so a failing handler does not spoil the main suite's "no Traceback, no write
loop" checks. The deeply nested Benchmark is generated (3000 levels: PyYAML and the Python
Kubernetes client cannot read it back either); it used to take the whole operator down.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.faults.stack import Stack

from .cases import Case, load_cases
from .checks import Applied, apply_case, wait_expected

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

BUG_CASES = [case for case in load_cases() if case.bug is not None]
SETTLE_SECONDS = 30.0
DEPTH = 3000  # the API server accepts up to 10000 levels; Python's json gives up near 1000


@pytest.fixture(scope="module")
def applied(stack: Stack) -> tuple[float, dict[str, Applied]]:
    """Apply every bug case at once, so their waits overlap."""
    started = time.monotonic()
    return started, {case.id: apply_case(stack, case) for case in BUG_CASES}


if BUG_CASES:  # collected only while some case file carries a `# bug:` line (none today)

    @pytest.mark.parametrize(
        "case",
        [
            pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=str(c.bug)))
            for c in BUG_CASES
        ],
        ids=lambda case: case.id,
    )
    def test_reported_bug_case(
        case: Case, applied: tuple[float, dict[str, Applied]], stack: Stack
    ) -> None:
        started, results = applied
        left = max(1.0, started + SETTLE_SECONDS - time.monotonic())
        wait_expected(stack, results[case.id], left)


def deep_benchmark(name: str, depth: int) -> str:
    """A Benchmark whose task params nest `depth` levels (built as text: json.dumps recurses)."""
    nested = '{"n":' * depth + '{"leaf":1}' + "}" * depth
    return (
        '{"apiVersion":"evaluator.nemo.dev/v1alpha1","kind":"Benchmark",'
        f'"metadata":{{"name":{json.dumps(name)}}},'
        '"spec":{"config":{"type":"custom","tasks":{"qa":{"type":"completion",'
        f'"params":{{"extra":{nested}}}}}}}}}}}}}'
    )


def _jsonpath(stack: Stack, kind: str, name: str, path: str) -> str:
    result = stack.cluster.kubectl(
        "get", kind, name, "-n", stack.namespace, "-o", f"jsonpath={path}", check=False
    )
    return result.stdout if result.returncode == 0 else ""


def test_deeply_nested_benchmark_does_not_take_the_operator_down(stack: Stack) -> None:
    """The API server accepts 3000 levels; the operator must survive and report the object."""
    operator = stack.operator
    assert operator.proc is not None
    pid = operator.proc.pid
    deep = "bm-deep-3000"
    try:
        stack.cluster.kubectl(
            "apply", "-n", stack.namespace, "-f", "-", input=deep_benchmark(deep, DEPTH)
        )
        stack.cluster.kubectl(
            "apply", "-n", stack.namespace, "-f", "-", input=deep_benchmark("bm-after-deep", 3)
        )
        deadline = time.monotonic() + SETTLE_SECONDS
        ready = '{.status.conditions[?(@.type=="Ready")].status}'
        deep_reason = '{.status.conditions[?(@.type=="Ready")].reason}'
        while time.monotonic() < deadline and operator.running:
            after_ready = _jsonpath(stack, "bm", "bm-after-deep", ready) == "True"
            if after_ready and _jsonpath(stack, "bm", deep, deep_reason):
                break
            time.sleep(0.5)
        assert operator.running, f"operator exited:\n{operator.tail(8)}"
        assert operator.proc.pid == pid
        assert _jsonpath(stack, "bm", "bm-after-deep", ready) == "True"
        assert _jsonpath(stack, "bm", deep, deep_reason) == "InvalidConfig"
        stalled = '{.status.conditions[?(@.type=="Stalled")].message}'
        assert "nested" in _jsonpath(stack, "bm", deep, stalled)
    finally:
        stack.cluster.kubectl(
            "delete", "bm", deep, "-n", stack.namespace, "--wait=false", check=False
        )
        stack.cluster.kubectl(
            "patch", "bm", deep, "-n", stack.namespace, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip
        if not operator.running:
            operator.start()

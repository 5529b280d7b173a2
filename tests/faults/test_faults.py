"""While a batch of EvalJobs runs, break NeMo, the API server or the operator; lose nothing.

Five scenarios from the product contract ("NeMo unreachable, 5xx, 429, timeouts: retry with
backoff, say so in a condition, never crash, never duplicate, never lose a result"):
(a) 5xx on 30% and timeouts on 10% of NeMo requests, (b) NeMo down for 60 s, (c) the emulator
SIGKILLed and restarted from its --state-dir, (d) kube-apiserver restarted, (e) the operator
SIGKILLed at random moments. Each ends with every EvalJob Succeeded, exactly one NeMo job per
EvalJob and every result written; the counts are recorded per scenario (tests/faults/.last-run.json
and the terminal summary).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from tests.support.controlplane import ControlPlane, ExternalCluster

from .batch import Ledger, Tally, apply_batch, phases_of, tally, wait_until
from .stack import Stack

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

Recorder = Callable[[str, object], None]
BATCH = 16
SETTLE_SECONDS = 45.0  # after the fault is over, every EvalJob must finish within this
REQUEST_TIMEOUT = 2.0  # OPERATOR_REQUEST_TIMEOUT in conftest
SEED = 20240607
ACTIVE = ("Submitted", "Running", "Succeeded")


def probabilities(*shares: float) -> list[float]:
    """Per-rule probabilities giving these overall shares: rules are tried in order."""
    left, out = 1.0, []
    for share in shares:
        out.append(share / left)
        left -= share
    return out


def submitted(stack: Stack, names: list[str], at_least: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        return sum(p in ACTIVE for p in phases_of(stack, names).values()) >= at_least

    return check


def all_terminal(stack: Stack, names: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        return all(
            p in ("Succeeded", "Failed", "Cancelled") for p in phases_of(stack, names).values()
        )

    return check


def finish(
    stack: Stack,
    ledger: Ledger,
    record_property: Recorder,
    scenario: str,
    names: list[str],
    started: float,
    late_posts: bool = False,
) -> Tally:
    """Faults off; wait for the batch; count, record and assert nothing lost or duplicated.

    Without a fault that makes NeMo process a POST after the operator gave up on it
    (`late_posts`), not even a duplicate that is later removed may be created.
    """
    stack.emulator.control.clear_faults()
    stack.emulator.control.end_outage()
    fault_over = time.monotonic()
    wait_until(all_terminal(stack, names), SETTLE_SECONDS)
    settled = time.monotonic() - fault_over
    result = tally(stack, scenario, names)
    result.settle_seconds = settled
    result.seconds = time.monotonic() - started
    ledger.record(result)
    keys = ("evaljobs", "lost", "duplicated", "created", "duplicates_created", "seconds")
    for key in (*keys, "settle_seconds"):
        record_property(key, getattr(result, key))
    assert stack.operator.running, f"operator died:\n{stack.operator.tail()}"
    assert (result.lost, result.duplicated) == (0, 0), "\n".join(result.problems)
    if not late_posts:
        assert result.duplicates_created == 0, "\n".join(result.problems)
    return result


def test_a_errors_and_timeouts(stack: Stack, ledger: Ledger, record_property: Recorder) -> None:
    """30% of NeMo requests answer 500/503 and 10% answer after the operator gave up.

    Besides the random 10%, the first three job POSTs are always slow (NeMo creates the job
    10 s after the operator timed out), so every run crosses the ambiguous-submission path.
    """
    started = time.monotonic()
    control = stack.emulator.control
    # Faults first: the operator submits a batch within a second or two of it appearing.
    control.add_fault("POST", "/v1/evaluation/jobs", latency_seconds=10, count=3)
    p500, p503, p_slow = probabilities(0.15, 0.15, 0.10)
    control.add_fault("*", "*", status=500, probability=p500)
    control.add_fault("*", "*", status=503, probability=p503)
    control.add_fault("*", "*", latency_seconds=REQUEST_TIMEOUT + 1.5, probability=p_slow)
    names = apply_batch(stack, BATCH)
    wait_until(all_terminal(stack, names), 50)
    hits = {f["id"]: f["hits"] for f in control.faults()}
    recorded = control.requests()
    assert all(hits.values()), f"every fault rule must have fired: {hits}"
    share = sum(1 for r in recorded if r.get("fault")) / max(1, len(recorded))
    assert 0.25 < share < 0.6, f"{share:.0%} of {len(recorded)} requests were faulted"
    finish(
        stack,
        ledger,
        record_property,
        "a-5xx-30pct-timeouts-10pct",
        names,
        started,
        late_posts=True,
    )


def test_b_outage_60s(stack: Stack, ledger: Ledger, record_property: Recorder) -> None:
    """NeMo drops every connection for 30 s, then answers 503 for 30 s."""
    started = time.monotonic()
    control = stack.emulator.control
    names = apply_batch(stack, BATCH)
    assert wait_until(submitted(stack, names), 20), phases_of(stack, names)
    control.outage(30, mode="drop")
    reasons: set[str] = set()

    def note_reasons() -> None:
        for name in names:
            cond = stack.cluster.condition("EvalJob", name, "Reconciling") or {}
            reasons.add(str(cond.get("reason")))

    time.sleep(20)
    note_reasons()
    time.sleep(10)
    control.outage(30, mode="status", status=503)
    time.sleep(25)
    note_reasons()
    time.sleep(5)
    assert "EvaluatorUnavailable" in reasons, f"outage never surfaced in a condition: {reasons}"
    assert stack.operator.starts == 1, "the operator restarted during the outage"
    finish(stack, ledger, record_property, "b-outage-60s", names, started)


def test_c_emulator_restarts(stack: Stack, ledger: Ledger, record_property: Recorder) -> None:
    """SIGKILL the emulator twice mid-batch and start it again from its state directory."""
    started = time.monotonic()
    emulator = stack.emulator
    port = emulator.port
    names = apply_batch(stack, BATCH)
    assert wait_until(submitted(stack, names), 20), phases_of(stack, names)
    for pause in (0.0, 3.0):
        time.sleep(pause)
        emulator.kill()
        time.sleep(3)
        emulator.start()
        assert emulator.port == port, "the emulator came back on another port"
    finish(stack, ledger, record_property, "c-emulator-restart", names, started)


def test_d_apiserver_restarts(
    control_plane: ControlPlane | ExternalCluster,
    stack: Stack,
    ledger: Ledger,
    record_property: Recorder,
) -> None:
    """Restart kube-apiserver twice mid-batch (etcd keeps the data)."""
    if not isinstance(control_plane, ControlPlane):
        pytest.skip("an external --kubeconfig cluster cannot restart its kube-apiserver")
    started = time.monotonic()
    names = apply_batch(stack, BATCH)
    assert wait_until(submitted(stack, names), 20), phases_of(stack, names)
    control_plane.restart_apiserver()
    time.sleep(2)
    control_plane.restart_apiserver()
    finish(stack, ledger, record_property, "d-apiserver-restart", names, started)


def test_e_operator_sigkills(stack: Stack, ledger: Ledger, record_property: Recorder) -> None:
    """SIGKILL the operator 5 times at seeded random moments, restarting it each time."""
    started = time.monotonic()
    rng = random.Random(SEED)
    names = apply_batch(stack, BATCH)
    kills = 5
    for _ in range(kills):
        time.sleep(rng.uniform(0.2, 3.0))
        stack.operator.kill()
        stack.operator.start()
    assert stack.operator.starts == kills + 1
    finish(stack, ledger, record_property, "e-operator-sigkill", names, started)

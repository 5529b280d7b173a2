"""The Argo CD health checks, run on a real Lua 5.1 runtime against every fixture object.

Why: a PostSync EvalJob gates a rollout only if Argo CD reads its health right; Progressing
keeps the sync waiting, Degraded fails it, Healthy lets it pass.
"""

from __future__ import annotations

import copy

import pytest
from lupa.lua51 import LuaError

from tests.deploy.argocd_lua import HealthCase, HealthScript, health_cases

KINDS = ("Benchmark", "EvalJob")
CASES = [case for kind in KINDS for case in health_cases(kind)]
PHASES = ("Pending", "Submitted", "Running", "Succeeded", "Failed", "Cancelled")


@pytest.fixture(scope="module")
def scripts() -> dict[str, HealthScript]:
    return {kind: HealthScript.for_kind(kind) for kind in KINDS}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_health_of_fixture(case: HealthCase, scripts: dict[str, HealthScript]) -> None:
    assert scripts[case.kind](case.load()) == {"status": case.status, "message": case.message}


def test_every_evaljob_phase_has_a_fixture() -> None:
    phases = {(c.load().get("status") or {}).get("phase") for c in health_cases("EvalJob")}
    assert set(PHASES) <= phases


@pytest.mark.parametrize("kind", KINDS)
def test_every_health_status_is_reachable(kind: str) -> None:
    assert {c.status for c in health_cases(kind)} == {"Healthy", "Progressing", "Degraded"}


@pytest.mark.parametrize("kind", KINDS)
def test_fixture_kinds_match_their_folder(kind: str) -> None:
    for case in health_cases(kind):
        assert case.load()["kind"] == kind, case.id


@pytest.mark.parametrize("phase", ["Failed", "Cancelled"])
def test_terminal_failure_is_degraded_even_if_stalled_is_missing(
    phase: str, scripts: dict[str, HealthScript]
) -> None:
    obj = _evaljob_with(phase, conditions=[])
    assert scripts["EvalJob"](obj)["status"] == "Degraded"


def test_succeeded_without_ready_is_still_progressing(scripts: dict[str, HealthScript]) -> None:
    obj = _evaljob_with("Succeeded", conditions=[_cond("Ready", "False", "Writing results")])
    assert scripts["EvalJob"](obj) == {"status": "Progressing", "message": "EvalJob Succeeded"}


def test_failed_gate_is_degraded_whatever_the_phase_says(scripts: dict[str, HealthScript]) -> None:
    obj = _evaljob_with(
        "Succeeded",
        conditions=[_cond("Ready", "True", "done"), _cond("Passed", "False", "bleu 10 < 30")],
    )
    assert scripts["EvalJob"](obj) == {"status": "Degraded", "message": "bleu 10 < 30"}


def test_stale_status_never_reports_healthy(scripts: dict[str, HealthScript]) -> None:
    for case in CASES:
        obj = case.load()
        if case.status != "Healthy":
            continue
        obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
        assert scripts[case.kind](obj)["status"] == "Progressing", case.id


def test_object_without_generation_is_judged_on_conditions(
    scripts: dict[str, HealthScript],
) -> None:
    obj = copy.deepcopy(next(c for c in CASES if c.id == "EvalJob/succeeded").load())
    del obj["metadata"]["generation"]
    assert scripts["EvalJob"](obj)["status"] == "Healthy"


def test_sandbox_has_no_string_library() -> None:
    """The harness must reject what Argo CD rejects, or the tests above prove nothing."""
    with pytest.raises(LuaError):
        HealthScript('return {status = string.lower("Healthy")}', "t")({})
    with pytest.raises(LuaError):
        HealthScript('return {status = ("Healthy"):lower()}', "t")({})


def test_harness_rejects_invalid_status() -> None:
    with pytest.raises(AssertionError, match="invalid status"):
        HealthScript('return {status = "Green"}', "t")({})


def _cond(kind: str, status: str, message: str) -> dict[str, object]:
    return {
        "type": kind,
        "status": status,
        "reason": "Test",
        "message": message,
        "lastTransitionTime": "2026-05-01T10:00:00Z",
        "observedGeneration": 1,
    }


def _evaljob_with(phase: str, conditions: list[dict[str, object]]) -> dict[str, object]:
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "EvalJob",
        "metadata": {"name": "x", "namespace": "team-a", "generation": 1},
        "spec": {"benchmarkRef": {"name": "qa"}, "target": {"type": "model"}},
        "status": {"observedGeneration": 1, "phase": phase, "conditions": conditions},
    }

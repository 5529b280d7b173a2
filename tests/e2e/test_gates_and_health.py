"""Quality gates end to end, and the Argo CD health Lua run on objects the operator wrote."""

from __future__ import annotations

import copy

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.deploy.argocd_lua import HealthScript

from .helpers import CUSTOM_CONFIG, Cluster, benchmark_manifest, evaljob_manifest, wait_for
from .test_evaljob import ready_benchmark

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

EVALJOB_HEALTH = HealthScript.for_kind("EvalJob")
BENCHMARK_HEALTH = HealthScript.for_kind("Benchmark")


def conds(obj: dict) -> dict[str, tuple[str, str]]:  # type: ignore[type-arg]
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


def test_passing_gate_is_healthy(cluster: Cluster) -> None:
    ready_benchmark(cluster)
    cluster.apply(
        evaljob_manifest("ej", "qa", passCriteria=[{"metric": "qa.bleu.sentence", "min": 0}])
    )
    obj = cluster.wait_phase("ej", "Succeeded")
    assert conds(obj)["Passed"] == ("True", "CriteriaPassed")
    assert obj["status"]["gate"][0]["passed"] is True
    assert EVALJOB_HEALTH(obj)["status"] == "Healthy"


@pytest.mark.parametrize(
    ("criterion", "reason", "says"),
    [
        ({"metric": "qa.bleu.sentence", "min": 1000}, "CriteriaFailed", "outside"),
        ({"metric": "qa.rouge.f1", "min": 0}, "MetricNotFound", "not in the results"),
    ],
)
def test_failing_gate_fails_the_evaljob_and_degrades_health(
    cluster: Cluster, criterion: dict[str, object], reason: str, says: str
) -> None:
    ready_benchmark(cluster)
    cluster.apply(evaljob_manifest("ej", "qa", passCriteria=[criterion]))
    obj = cluster.wait_phase("ej", "Failed")
    assert conds(obj)["Passed"] == ("False", reason)
    assert conds(obj)["Succeeded"] == ("False", reason)
    assert says in obj["status"]["message"]
    summary = cluster.config_map("ej-results")
    assert summary is not None  # results are kept even when the gate fails
    assert "FAIL" in summary.data["summary.txt"]
    health = EVALJOB_HEALTH(obj)
    assert health["status"] == "Degraded"
    assert says in health["message"]
    kubectl_wait = cluster.kubectl(
        "wait", "-n", cluster.namespace, "--for=condition=Succeeded", "ej/ej", "--timeout=3s",
        check=False,
    )  # fmt: skip
    assert kubectl_wait.returncode != 0  # a gate that failed never satisfies the wait


def test_health_follows_the_live_object(cluster: Cluster, emulator: RunningEmulator) -> None:
    ready_benchmark(cluster)
    assert BENCHMARK_HEALTH(cluster.must_get("Benchmark", "qa"))["status"] == "Healthy"
    emulator.control.set_phase_seconds(running=30)
    try:
        cluster.apply(evaljob_manifest("ej", "qa"))
        running = cluster.wait_phase("ej", "Running")
    finally:
        emulator.control.set_phase_seconds(running=3)
    assert EVALJOB_HEALTH(running)["status"] == "Progressing"
    cluster.patch_spec("EvalJob", "ej", {"cancel": True})
    cancelled = cluster.wait_phase("ej", "Cancelled")
    assert EVALJOB_HEALTH(cancelled)["status"] == "Degraded"

    broken = copy.deepcopy(CUSTOM_CONFIG)
    del broken["tasks"]["qa"]["type"]
    cluster.apply(benchmark_manifest("broken", broken))
    cluster.wait_condition("Benchmark", "broken", "Stalled")
    health = BENCHMARK_HEALTH(cluster.must_get("Benchmark", "broken"))
    assert health["status"] == "Degraded"
    assert "422" in health["message"]

    cluster.apply(evaljob_manifest("waiting", "missing"))
    wait_for(
        lambda: cluster.condition("EvalJob", "waiting", "Reconciling"), 30, "waiting condition"
    )
    assert EVALJOB_HEALTH(cluster.must_get("EvalJob", "waiting"))["status"] == "Progressing"

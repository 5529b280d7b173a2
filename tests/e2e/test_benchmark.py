"""Benchmark end to end: NeMo config follows the resource through create, edit, delete,
operator restarts, NeMo outages and rejections."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from .helpers import (
    CUSTOM_CONFIG,
    Cluster,
    benchmark_manifest,
    request_mark,
    strip_nulls,
    wait_for,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]


def nemo_config(emulator: RunningEmulator, ref: str) -> dict[str, Any] | None:
    response = httpx.get(f"{emulator.base_url}/v1/evaluation/configs/{ref}", timeout=5)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def config_ref(cluster: Cluster, name: str) -> str:
    ready = cluster.wait_condition("Benchmark", name, "Ready")
    assert ready["reason"] == "ConfigSynced"
    ref = cluster.must_get("Benchmark", name)["status"]["configName"]
    assert isinstance(ref, str)
    return ref


def config_posts(emulator: RunningEmulator, since: int = 0) -> list[dict[str, Any]]:
    return emulator.control.requests(
        method="POST", path_prefix="/v1/evaluation/configs", since=since
    )


def test_config_follows_create_edit_delete(cluster: Cluster, emulator: RunningEmulator) -> None:
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    ref = config_ref(cluster, "qa")
    assert ref.startswith("default/")
    stored = nemo_config(emulator, ref)
    assert stored is not None
    assert stored["type"] == "custom"
    assert strip_nulls(stored["params"]) == CUSTOM_CONFIG["params"]
    assert strip_nulls(stored["tasks"]) == CUSTOM_CONFIG["tasks"]
    assert stored["custom_fields"]["k8s_namespace"] == cluster.namespace

    table = cluster.kubectl("get", "bm", "-n", cluster.namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "API", "TYPE", "READY", "CONFIG", "BEST", "AGE"]
    assert " v1 " in table
    assert "custom" in table
    assert "True" in table

    edited = copy.deepcopy(CUSTOM_CONFIG)
    edited["params"]["limit_samples"] = 7
    cluster.patch_spec("Benchmark", "qa", {"config": edited})
    wait_for(
        lambda: (nemo_config(emulator, ref) or {}).get("params", {}).get("limit_samples") == 7,
        30,
        "NeMo config to follow the edit",
    )
    generation = cluster.must_get("Benchmark", "qa")["metadata"]["generation"]
    wait_for(
        lambda: (
            cluster.must_get("Benchmark", "qa")["status"].get("observedGeneration") == generation
        ),
        30,
        "observedGeneration",
    )

    cluster.delete("Benchmark", "qa")
    cluster.wait_gone("Benchmark", "qa")
    assert nemo_config(emulator, ref) is None


def test_restarts_at_every_step_leave_one_config(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    mark = request_mark(emulator)
    operator.kill()
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    operator.start()
    ref = config_ref(cluster, "qa")

    operator.kill()
    edited = copy.deepcopy(CUSTOM_CONFIG)
    edited["params"]["parallelism"] = 2
    cluster.patch_spec("Benchmark", "qa", {"config": edited})
    operator.start()
    wait_for(
        lambda: (nemo_config(emulator, ref) or {}).get("params", {}).get("parallelism") == 2,
        30,
        "edit applied after restart",
    )
    operator.restart()  # a resume with nothing to do must not create or change anything
    posts_before = len(config_posts(emulator, since=mark))
    cluster.wait_condition("Benchmark", "qa", "Ready")

    operator.kill()
    cluster.delete("Benchmark", "qa")
    assert cluster.get("Benchmark", "qa") is not None  # held by our finalizer
    operator.start()
    cluster.wait_gone("Benchmark", "qa")
    assert nemo_config(emulator, ref) is None
    name = ref.split("/", 1)[1]
    creates = [
        r for r in config_posts(emulator, since=mark) if (r.get("body") or {}).get("name") == name
    ]
    assert len(creates) == 1, creates
    assert len(config_posts(emulator, since=mark)) == posts_before


def test_nemo_errors_then_recovery(cluster: Cluster, emulator: RunningEmulator) -> None:
    fault = emulator.control.add_fault("*", "/v1/evaluation/configs*", status=500)
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    ready = cluster.wait_condition("Benchmark", "qa", "Ready", status="False")
    assert ready["reason"] == "EvaluatorUnavailable"
    assert "HTTP 500" in ready["message"]
    assert cluster.condition("Benchmark", "qa", "Reconciling")["status"] == "True"  # type: ignore[index]
    emulator.control.remove_fault(fault)
    cluster.wait_condition("Benchmark", "qa", "Ready", timeout=60)


def test_rejected_config_stalls_with_nemo_message_then_fix_recovers(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    broken = copy.deepcopy(CUSTOM_CONFIG)
    del broken["tasks"]["qa"]["type"]  # the CRD keeps tasks open; NeMo requires a task type
    cluster.apply(benchmark_manifest("qa", broken))
    stalled = cluster.wait_condition("Benchmark", "qa", "Stalled")
    assert stalled["reason"] == "InvalidConfig"
    assert "422" in stalled["message"]
    assert "type" in stalled["message"]
    assert any(e.reason == "InvalidConfig" and e.type == "Warning" for e in cluster.events("qa"))
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    cluster.wait_condition("Benchmark", "qa", "Ready")
    assert cluster.condition("Benchmark", "qa", "Stalled")["status"] == "False"  # type: ignore[index]


def test_config_deleted_behind_our_back_is_recreated(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    ref = config_ref(cluster, "qa")
    deleted = httpx.delete(f"{emulator.base_url}/v1/evaluation/configs/{ref}", timeout=5)
    assert deleted.status_code in (200, 204)
    wait_for(lambda: nemo_config(emulator, ref), 30, "the config to be re-created")
    assert cluster.condition("Benchmark", "qa", "Ready")["status"] == "True"  # type: ignore[index]


def test_benchmark_events_are_posted(cluster: Cluster) -> None:
    cluster.apply(benchmark_manifest("qa", CUSTOM_CONFIG))
    config_ref(cluster, "qa")
    wait_for(
        lambda: any(e.reason == "ConfigCreated" for e in cluster.events("qa")),
        15,
        "a ConfigCreated event",
    )

"""Benchmark → NeMo config: naming, comparison, create/adopt/update, status."""

from __future__ import annotations

from typing import Any

import pytest

from nemo_evaluator_operator.evaluator.errors import ServerError, UnprocessableEntityError
from nemo_evaluator_operator.evaluator.port import BenchmarkSync
from nemo_evaluator_operator.evaluator.v1.configs import config_body, delete_config, ensure_config
from nemo_evaluator_operator.models import Benchmark
from nemo_evaluator_operator.reconcile.benchmark import (
    benchmark_status,
    config_name_for,
    definition_for,
)
from nemo_evaluator_operator.reconcile.failures import classify

from .fakes import FakeEvaluator

NOW = "2026-11-30T12:00:00Z"


def benchmark(
    config: dict[str, Any], generation: int = 1, evaluator_ns: str | None = None
) -> Benchmark:
    spec: dict[str, Any] = {"config": config}
    if evaluator_ns:
        spec["evaluatorNamespace"] = evaluator_ns
    return Benchmark.model_validate(
        {
            "apiVersion": "evaluator.nemo.dev/v1alpha1",
            "kind": "Benchmark",
            "metadata": {
                "name": "qa",
                "namespace": "team-a",
                "uid": "bm-uid",
                "generation": generation,
            },
            "spec": spec,
        }
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("a-b", "c"), ("a", "b-c")),
        (("team", "x"), ("team", "y")),
        (("ns1", "same"), ("ns2", "same")),
    ],
)
def test_config_names_never_collide(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert config_name_for(*left) != config_name_for(*right)
    assert config_name_for(*left) == config_name_for(*left)


def test_config_name_is_bounded() -> None:
    assert len(config_name_for("n" * 63, "x" * 253)) <= 200


async def test_create_then_unchanged_then_update_then_delete() -> None:
    evaluator = FakeEvaluator()
    desired = definition_for(
        benchmark({"type": "custom", "params": {"limit_samples": 5}}), "default"
    )
    assert desired.namespace == "default"
    assert desired.owner.name == "qa"
    assert await ensure_config(evaluator, desired) is BenchmarkSync.CREATED
    assert await ensure_config(evaluator, desired) is BenchmarkSync.UNCHANGED
    changed = definition_for(
        benchmark({"type": "custom", "params": {"limit_samples": 9}}), "default"
    )
    assert await ensure_config(evaluator, changed) is BenchmarkSync.UPDATED
    assert evaluator.configs[(changed.namespace, changed.name)]["params"] == {"limit_samples": 9}
    assert evaluator.configs[(changed.namespace, changed.name)]["custom_fields"]["k8s_name"] == "qa"
    await delete_config(evaluator, changed)  # type: ignore[arg-type]
    await delete_config(evaluator, changed)  # type: ignore[arg-type]  # 404 counts as done
    assert evaluator.configs == {}


async def test_identical_existing_config_is_adopted_without_writes() -> None:
    evaluator = FakeEvaluator()
    desired = definition_for(benchmark({"type": "mmlu"}, evaluator_ns="team-a"), "default")
    evaluator.configs[(desired.namespace, desired.name)] = {
        **config_body(desired),
        "id": "cfg-1",
        "params": {},
    }
    assert await ensure_config(evaluator, desired) is BenchmarkSync.UNCHANGED
    assert evaluator.names() == ["get_config"]


def conds(status: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_status_ready_rejected_and_transient() -> None:
    bm = benchmark({"type": "custom"}, generation=3)
    definition = definition_for(bm, "default")
    ok = benchmark_status(bm, definition, NOW)
    assert conds(ok) == {
        "Ready": ("True", "ConfigSynced"),
        "Reconciling": ("False", "ConfigSynced"),
        "Stalled": ("False", "ConfigSynced"),
    }
    assert ok.observed_generation == 3
    assert ok.config_name == definition.ref
    assert ok.evaluator_api == "v1"
    assert ok.config_hash
    rejected = classify(
        UnprocessableEntityError(
            status_code=422, detail="body.type: bad", body={}, method="POST", path="/c"
        ),
        "create config",
        "InvalidConfig",
    )
    bad = benchmark_status(bm, definition, NOW, rejected)
    assert conds(bad)["Stalled"] == ("True", "InvalidConfig")
    assert "body.type: bad" in bad.conditions[0].message
    down = classify(
        ServerError(status_code=500, detail="oops", body={}, method="GET", path="/c"), "sync"
    )
    waiting = benchmark_status(bm, definition, NOW, down)
    assert conds(waiting)["Ready"] == ("False", "EvaluatorUnavailable")
    assert conds(waiting)["Reconciling"] == ("True", "EvaluatorUnavailable")
    assert waiting.observed_generation is None  # not yet reconciled


@pytest.mark.parametrize(("levels", "bad"), [(10, False), (200, False), (260, True), (5000, True)])
def test_absurdly_nested_configs_are_refused_before_nemo_is_asked(levels: int, bad: bool) -> None:
    from nemo_evaluator_operator.reconcile.benchmark import config_problem

    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(levels):
        cursor["x"] = {}
        cursor = cursor["x"]
    problem = config_problem({"config": {"type": "custom", "tasks": {"t": nested}}})
    if not bad:  # what passes the check must also survive serialisation into the NeMo body
        definition_for(benchmark({"type": "custom", "tasks": {"t": nested}}), "default")
    assert (problem is not None) is bad
    if bad:
        assert "nested" in (problem or "")

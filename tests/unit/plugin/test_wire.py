"""The plugin reads the ConfigMaps the operator's own `build_config_maps` writes, and clones."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_nemo_eval.errors import PluginError
from kubectl_nemo_eval.rerun import clone
from kubectl_nemo_eval.results import load_results
from nemo_evaluator_operator.evaluator.port import JobResults
from nemo_evaluator_operator.models import EvalJob
from nemo_evaluator_operator.reconcile.finishing import build_config_maps
from nemo_evaluator_operator.reconcile.results import render_results

BODY: dict[str, Any] = {
    "apiVersion": "evaluator.nemo.dev/v1alpha1",
    "kind": "EvalJob",
    "metadata": {"name": "ej", "namespace": "ns", "uid": "u1", "generation": 1},
    "spec": {"benchmarkRef": {"name": "qa"}, "target": {"type": "model"}, "cancel": True},
}


def written(size: int) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    document = {"tasks": {"qa": {"metrics": {}}}, "pad": ["x" * 1000] * (size // 1000)}
    rendered = render_results(JobResults(scores={}, document=document))
    maps = build_config_maps(EvalJob.model_validate(BODY), "job-1", rendered, [])
    ref = {
        "configMap": maps[0].name,
        "parts": [m.name for m in maps[1:]],
        "sha256": rendered.sha256,
    }
    return {**BODY, "status": {"resultsRef": ref}}, {m.name: dict(m.data) for m in maps}


@pytest.mark.parametrize("size", [10_000, 2_500_000])
def test_reads_what_the_operator_writes(size: int) -> None:
    evaljob, maps = written(size)
    results = load_results(evaljob, maps.get)
    assert len(results.config_maps) == (1 if size < 900_000 else 4)
    assert results.document["pad"][0] == "x" * 1000


def test_a_changed_part_fails_the_check() -> None:
    evaljob, maps = written(2_500_000)
    part = evaljob["status"]["resultsRef"]["parts"][0]
    maps[part]["results.json.part"] = maps[part]["results.json.part"].replace("x", "y", 1)
    with pytest.raises(PluginError, match="SHA-256"):
        load_results(evaljob, maps.get)


def test_clone_keeps_the_spec_and_leaves_the_rest() -> None:
    old = {
        **BODY,
        "metadata": {
            **BODY["metadata"],
            "resourceVersion": "7",
            "finalizers": ["evaluator.nemo.dev/finalizer"],
            "ownerReferences": [{"uid": "s"}],
            "labels": {"team": "a", "kustomize.toolkit.fluxcd.io/name": "x"},
            "annotations": {"evaluator.nemo.dev/submission": "m", "note": "keep"},
        },
        "status": {"phase": "Cancelled"},
    }
    new = clone(old, None)
    assert new["metadata"] == {
        "generateName": "ej-rerun-",
        "labels": {"team": "a"},
        "annotations": {"note": "keep", "evaluator.nemo.dev/rerun-of": "ej"},
    }
    assert new["spec"] == {"benchmarkRef": {"name": "qa"}, "target": {"type": "model"}}
    assert "status" not in new

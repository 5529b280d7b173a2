"""What only the Helix API has: definitions checked by Helix itself, workspaces, failed jobs
told by their error stack, v1-form targets translated, v1 Benchmarks refused with a reason."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.e2e import shared
from tests.e2e.backends import EXACT_MATCH, HelixBackend
from tests.e2e.helpers import Cluster, wait_for
from tests.support.helix import HelixServer

pytestmark = [pytest.mark.controlplane, pytest.mark.helix, pytest.mark.e2e]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def stalled(cluster: Cluster, kind: str, name: str) -> dict[str, Any]:
    return cluster.wait_condition(kind, name, "Stalled", timeout=90)


def test_benchmark_is_checked_by_helix_on_create_and_edit_then_deleted(
    hx: Cluster, backend: HelixBackend, helix: HelixServer
) -> None:
    shared.benchmark(hx, backend)  # Ready means evaluate/live accepted it
    obj = hx.must_get("Benchmark", "bm")
    assert obj["status"]["evaluatorAPI"] == "helix"
    assert obj["status"]["evaluatorNamespace"] == hx.namespace
    assert obj["status"]["scoreNames"] == ["exact-match.exact-match"]
    first_hash = obj["status"]["configHash"]
    with helix.client() as http:  # the workspace was created for it
        assert http.get(f"/apis/entities/v2/workspaces/{hx.namespace}").status_code == 200
    lives = [
        r for r in backend.proxy.control.requests(method="POST") if r["path"].endswith("/live")
    ]
    assert lives, "the definition was not checked with evaluate/live"

    edited = copy.deepcopy(obj["spec"])
    edited["evaluation"]["metrics"].append(
        {"type": "bleu", "references": ["{{item.expected}}"], "candidate": "{{sample.output_text}}"}
    )
    hx.patch_spec("Benchmark", "bm", {"evaluation": edited["evaluation"]})

    def revalidated() -> dict[str, Any] | None:
        current = hx.must_get("Benchmark", "bm")
        status = current["status"]
        return (
            current
            if status.get("observedGeneration") == 2 and status["configHash"] != first_hash
            else None
        )

    current = wait_for(revalidated, 90, "the edit to be checked")
    assert "bleu.sentence" in current["status"]["scoreNames"]
    assert conditions(current)["Ready"]["status"] == "True"
    assert "ConfigValidated" in {e.reason for e in hx.events("bm")}
    hx.delete("Benchmark", "bm")
    hx.wait_gone("Benchmark", "bm", timeout=60)


def test_a_metric_helix_cannot_use_stalls_with_helix_words_and_a_fix_recovers(
    hx: Cluster, backend: HelixBackend
) -> None:
    spec = backend.benchmark_spec(hx.namespace)
    good = copy.deepcopy(spec)
    spec["evaluation"]["metrics"] = [{**EXACT_MATCH, "reference": "{{item.no_such_column}}"}]
    hx.apply(shared._manifest("Benchmark", "bm", spec))
    condition = stalled(hx, "Benchmark", "bm")
    assert condition["reason"] == "InvalidConfig"
    assert "no_such_column" in condition["message"]  # Helix's own explanation
    assert "NeMo Helix" in condition["message"]
    hx.apply(shared._manifest("Benchmark", "bm", good))
    hx.wait_condition("Benchmark", "bm", "Ready", timeout=90)


def test_a_metric_the_operator_cannot_bundle_is_refused_with_what_to_do(
    hx: Cluster, backend: HelixBackend
) -> None:
    spec = backend.benchmark_spec(hx.namespace)
    spec["evaluation"]["metrics"] = [{"type": "llm-judge", "model": "judge", "scores": []}]
    hx.apply(shared._manifest("Benchmark", "bm", spec))
    message = stalled(hx, "Benchmark", "bm")["message"]
    assert "llm-judge" in message
    assert "bundle" in message


def test_a_v1_benchmark_on_helix_stalls_with_the_reason(hx: Cluster) -> None:
    hx.apply(shared._manifest("Benchmark", "bm", {"config": {"type": "mmlu"}}))
    condition = stalled(hx, "Benchmark", "bm")
    assert condition["reason"] == "WrongEvaluatorAPI"
    assert "spec.evaluation" in condition["message"]


def test_a_failed_job_reports_the_end_of_its_error_stack(
    hx: Cluster, backend: HelixBackend
) -> None:
    shared.benchmark(hx, backend)
    dead = {"url": "http://127.0.0.1:9/v1/chat/completions", "name": "good", "format": "openai"}
    hx.apply(shared._manifest("EvalJob", "ej", {"benchmarkRef": {"name": "bm"}, "target": dead}))
    obj = shared.finished(hx, "ej")
    status = obj["status"]
    assert status["phase"] == "Failed", status
    assert conditions(obj)["Succeeded"]["reason"] == "JobFailed"
    assert "Job exited with code 1" in status["message"]
    assert len(status["message"]) > len("Job exited with code 1") + 20  # the cause, not only that
    assert hx.config_map("ej-results") is None


def test_a_v1_model_target_is_translated_for_helix(hx: Cluster, backend: HelixBackend) -> None:
    shared.benchmark(hx, backend)
    endpoint = {"url": backend.model.chat_url, "model_id": "fair", "format": "openai"}
    target = {"type": "model", "model": {"api_endpoint": endpoint}}
    hx.apply(shared._manifest("EvalJob", "ej", {"benchmarkRef": {"name": "bm"}, "target": target}))
    obj = shared.finished(hx, "ej")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert obj["status"]["scores"]["exact-match.exact-match"] == pytest.approx(0.6)
    assert obj["status"]["model"] == "fair"


def test_a_helix_job_secret_is_removed_when_the_job_ends(
    hx: Cluster, backend: HelixBackend, helix: HelixServer
) -> None:
    import base64

    shared.benchmark(hx, backend)
    hx.core.create_namespaced_secret(
        hx.namespace,
        {
            "metadata": {"name": "k", "annotations": {"evaluator.nemo.dev/allowed-evaljobs": "ej"}},
            "data": {"key": base64.b64encode(b"sk-1").decode()},
        },
    )
    spec = {
        "benchmarkRef": {"name": "bm"},
        "target": backend.target(),
        "apiKeySecretRef": {"name": "k", "key": "key"},
    }
    hx.apply(shared._manifest("EvalJob", "ej", spec))
    obj = shared.finished(hx, "ej")
    assert obj["status"]["phase"] == "Succeeded"
    secrets_url = f"/apis/secrets/v2/workspaces/{hx.namespace}/secrets"
    posts = backend.proxy.control.requests(method="POST", path_prefix=secrets_url)
    assert len(posts) == 1
    with httpx.Client(base_url=helix.base_url) as http:
        names = [s["name"] for s in http.get(secrets_url).json().get("data", [])]
    assert not [n for n in names if n.startswith("evaljob-")], names

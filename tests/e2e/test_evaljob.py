"""EvalJob end to end: submit once, poll, finish with results; fail, cancel, deadline, delete."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from .helpers import (
    CUSTOM_CONFIG,
    Cluster,
    benchmark_manifest,
    evaljob_manifest,
    request_mark,
    wait_for,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

CANARY = "canary-4f1c9e2b-do-not-leak"


def nemo_get(emulator: RunningEmulator, path: str) -> httpx.Response:
    return httpx.get(f"{emulator.base_url}{path}", timeout=5)


def job_posts(emulator: RunningEmulator, uid: str) -> list[dict[str, Any]]:
    posts = emulator.control.requests(method="POST", path_prefix="/v1/evaluation/jobs")
    return [
        p
        for p in posts
        if p["path"] == "/v1/evaluation/jobs"
        and ((p.get("body") or {}).get("custom_fields") or {}).get("evaljob_uid") == uid
    ]


def nemo_jobs_for(emulator: RunningEmulator, uid: str) -> list[dict[str, Any]]:
    response = nemo_get(
        emulator, f"/v1/evaluation/jobs?filter[custom_fields][evaljob_uid]={uid}&page_size=100"
    )
    response.raise_for_status()
    return [j for j in response.json()["data"] if j["custom_fields"].get("evaljob_uid") == uid]


def ready_benchmark(cluster: Cluster, name: str = "qa") -> str:
    cluster.apply(benchmark_manifest(name, CUSTOM_CONFIG))
    cluster.wait_condition("Benchmark", name, "Ready")
    ref = cluster.must_get("Benchmark", name)["status"]["configName"]
    assert isinstance(ref, str)
    return ref


def api_key_secret(cluster: Cluster, value: str = CANARY) -> None:
    cluster.core.create_namespaced_secret(
        cluster.namespace,
        {
            "metadata": {
                "name": "nim-key",
                "annotations": {"evaluator.nemo.dev/allowed-evaljobs": "*"},
            },
            "data": {"api-key": base64.b64encode(value.encode()).decode()},
        },
    )


def running_job(cluster: Cluster, emulator: RunningEmulator, name: str, **spec: Any) -> str:
    """An EvalJob whose NeMo job runs for a long time; returns the NeMo job id."""
    emulator.control.set_phase_seconds(running=60)
    try:
        cluster.apply(evaljob_manifest(name, "qa", **spec))
        obj = cluster.wait_phase(name, "Running", timeout=60)
    finally:
        emulator.control.set_phase_seconds(running=3)
    job_id = obj["status"]["jobId"]
    assert isinstance(job_id, str)
    return job_id


def test_happy_path_submits_once_and_writes_exact_results(
    cluster: Cluster, emulator: RunningEmulator, operator: OperatorProcess
) -> None:
    ref = ready_benchmark(cluster)
    api_key_secret(cluster)
    cluster.apply(
        evaljob_manifest("ej", "qa", apiKeySecretRef={"name": "nim-key", "key": "api-key"})
    )
    seen: list[tuple[str | None, float | None]] = []

    def finished() -> dict[str, Any] | None:
        obj = cluster.must_get("EvalJob", "ej")
        status = obj.get("status", {})
        seen.append((status.get("phase"), status.get("progress")))
        return obj if status.get("phase") in ("Succeeded", "Failed") else None

    obj = wait_for(finished, 60, "EvalJob to finish")
    status = obj["status"]
    assert status["phase"] == "Succeeded", status
    phases = [phase for phase, _ in seen]
    assert phases.index("Submitted") < phases.index("Running") < phases.index("Succeeded")
    progress = [p for phase, p in seen if phase == "Running" and p is not None]
    assert progress, seen
    assert len(set(progress)) >= 2, f"progress never moved: {progress}"

    uid = obj["metadata"]["uid"]
    posts = job_posts(emulator, uid)
    assert len(posts) == 1
    body = posts[0]["body"]
    assert body["config"] == ref
    assert body["target"]["model"]["api_endpoint"]["api_key"] == CANARY
    assert body["target"]["model"]["api_endpoint"]["model_id"] == "meta/llama-3.1-8b-instruct"
    assert len(nemo_jobs_for(emulator, uid)) == 1

    results = nemo_get(emulator, f"/v1/evaluation/jobs/{status['jobId']}/results").json()
    cm = cluster.config_map("ej-results")
    assert cm is not None
    assert json.loads(cm.data["results.json"]) == results
    assert cm.metadata.labels["evaluator.nemo.dev/evaljob"] == "ej"
    assert cm.metadata.labels["evaluator.nemo.dev/benchmark"] == "qa"
    assert cm.metadata.owner_references[0].uid == uid
    bleu = results["tasks"]["qa"]["metrics"]["bleu"]["scores"]
    for score, value in bleu.items():
        assert status["scores"][f"qa.bleu.{score}"] == pytest.approx(value["value"])
    assert "qa.bleu" in cm.data["summary.txt"]
    assert status["resultsRef"]["configMap"] == "ej-results"
    assert (
        hashlib.sha256(cm.data["results.json"].encode()).hexdigest()
        == status["resultsRef"]["sha256"]
    )
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {
        "Succeeded": "True",
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert all(
        c["observedGeneration"] == obj["metadata"]["generation"] for c in status["conditions"]
    )

    waited = cluster.kubectl(
        "wait", "-n", cluster.namespace, "--for=condition=Succeeded", "ej/ej", "--timeout=10s"
    )
    assert waited.returncode == 0
    table = cluster.kubectl("get", "ej", "-n", cluster.namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "BENCHMARK", "MODEL", "PHASE", "PROGRESS", "SCORE", "AGE"]
    assert "meta/llama-3.1-8b-instruct" in table[1]
    assert "Succeeded" in table[1]
    assert "qa.bleu." in table[1]
    wide = cluster.kubectl("get", "ej", "-n", cluster.namespace, "-o", "wide").stdout
    assert status["jobId"] in wide

    # kopf only delivers events here: it keeps no state on the object (no diff-base copy of
    # the spec, no progress annotations); the engine's own marker and finalizer are all.
    meta = obj["metadata"]
    assert [k for k in meta.get("annotations", {}) if "kopf" in k] == []
    assert meta.get("finalizers") == ["evaluator.nemo.dev/finalizer"]

    events = cluster.events("ej")  # one event in an ordinary life: events are writes too
    assert [(e.type, e.reason) for e in events] == [("Normal", "Succeeded")]
    assert status["jobId"] in events[0].message

    # The API key appears nowhere but in the request NeMo received.
    everything = [
        operator.output(),
        json.dumps(obj),
        json.dumps([e.message for e in cluster.events("ej")]),
        json.dumps(cm.data),
        cluster.kubectl("get", "events", "-n", cluster.namespace, "-o", "yaml").stdout,
    ]
    for text in everything:
        assert CANARY not in text


def test_failed_job_reports_nemo_message(cluster: Cluster, emulator: RunningEmulator) -> None:
    ready_benchmark(cluster)
    emulator.control.fail_next(1, "Error connecting to inference server")
    cluster.apply(evaljob_manifest("ej", "qa"))
    obj = cluster.wait_phase("ej", "Failed")
    status = obj["status"]
    assert "Error connecting to inference server" in status["message"]
    conds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conds["Succeeded"] == ("False", "JobFailed")
    assert conds["Stalled"] == ("True", "JobFailed")
    assert cluster.config_map("ej-results") is None


def test_deadline_cancels_and_fails(cluster: Cluster, emulator: RunningEmulator) -> None:
    ready_benchmark(cluster)
    emulator.control.set_phase_seconds(running=60)
    try:
        cluster.apply(evaljob_manifest("ej", "qa", activeDeadlineSeconds=4))
        obj = cluster.wait_phase("ej", "Failed", timeout=40)
    finally:
        emulator.control.set_phase_seconds(running=3)
    conds = {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}
    assert conds["Succeeded"] == ("False", "DeadlineExceeded")
    job = nemo_get(emulator, f"/v1/evaluation/jobs/{obj['status']['jobId']}").json()
    assert job["status"] == "cancelled"


def test_delete_while_nemo_is_down_is_bounded(cluster: Cluster, emulator: RunningEmulator) -> None:
    ready_benchmark(cluster)
    running_job(cluster, emulator, "ej")
    emulator.control.outage(120, mode="drop")
    started = time.monotonic()
    cluster.delete("EvalJob", "ej")
    cluster.wait_gone("EvalJob", "ej", timeout=90)
    emulator.control.end_outage()
    assert time.monotonic() - started < 90
    warnings = [e for e in cluster.events("ej") if e.reason == "CleanupAbandoned"]
    assert warnings, [e.reason for e in cluster.events("ej")]
    assert warnings[0].type == "Warning"


def test_waits_for_benchmark_and_secret_then_recovers(cluster: Cluster) -> None:
    cluster.apply(
        evaljob_manifest("ej", "qa", apiKeySecretRef={"name": "nim-key", "key": "api-key"})
    )
    waiting = cluster.wait_condition("EvalJob", "ej", "Reconciling")
    assert waiting["reason"] == "BenchmarkNotFound"
    assert cluster.must_get("EvalJob", "ej")["status"]["phase"] == "Pending"
    ready_benchmark(cluster)
    wait_for(
        lambda: (
            (cluster.condition("EvalJob", "ej", "Reconciling") or {}).get("reason")
            == "SecretNotFound"
        ),
        30,
        "SecretNotFound",
    )
    api_key_secret(cluster)
    cluster.wait_phase("ej", "Succeeded", timeout=60)


def test_rejected_submission_is_terminal(cluster: Cluster, emulator: RunningEmulator) -> None:
    ready_benchmark(cluster)
    manifest = evaljob_manifest("ej", "qa")
    manifest["spec"]["target"]["model"]["api_endpoint"].pop("url")  # NeMo requires it
    cluster.apply(manifest)
    obj = cluster.wait_phase("ej", "Failed")
    stalled = {c["type"]: c for c in obj["status"]["conditions"]}["Stalled"]
    assert stalled["reason"] == "SubmissionRejected"
    assert "422" in stalled["message"]
    assert "url" in stalled["message"]


def test_three_mebibyte_result_is_split_and_reassembled(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    ready_benchmark(cluster)
    job_id = running_job(cluster, emulator, "ej")
    emulator.control.set_job_padding(job_id, 3 * 1024 * 1024)
    emulator.control.force_job(job_id, "completed")
    obj = cluster.wait_phase("ej", "Succeeded", timeout=60)
    ref = obj["status"]["resultsRef"]
    assert len(ref["parts"]) >= 4
    index = cluster.config_map("ej-results")
    assert index is not None
    assert index.data["parts"].split() == ref["parts"]
    chunks = []
    for name in ref["parts"]:
        part = cluster.config_map(name)
        assert part is not None
        assert part.metadata.owner_references[0].uid == obj["metadata"]["uid"]
        chunks.append(part.data["results.json.part"])
    text = "".join(chunks)
    assert len(text) == ref["sizeBytes"] > 3 * 1024 * 1024
    assert hashlib.sha256(text.encode()).hexdigest() == ref["sha256"]
    assert json.loads(text) == nemo_get(emulator, f"/v1/evaluation/jobs/{job_id}/results").json()


def test_spec_change_on_a_finished_evaljob_is_acknowledged(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    ready_benchmark(cluster)
    cluster.apply(evaljob_manifest("ej", "qa"))
    done = cluster.wait_phase("ej", "Succeeded")
    mark = request_mark(emulator)
    cluster.patch_spec("EvalJob", "ej", {"cancel": True})  # e.g. a GitOps tool syncing late

    def acknowledged() -> dict[str, Any] | None:
        obj = cluster.must_get("EvalJob", "ej")
        current = obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        return obj if current else None

    obj = wait_for(acknowledged, 20, "observedGeneration to catch up")
    assert obj["status"]["phase"] == "Succeeded"
    assert obj["status"]["jobId"] == done["status"]["jobId"]
    assert all(
        c["observedGeneration"] == obj["metadata"]["generation"]
        for c in obj["status"]["conditions"]
    )
    job_id = done["status"]["jobId"]
    job_calls = emulator.control.requests(since=mark, path_prefix=f"/v1/evaluation/jobs/{job_id}")
    assert job_calls == []  # finished EvalJobs cost NeMo nothing


def test_results_configmap_of_someone_else_is_never_overwritten(
    cluster: Cluster, emulator: RunningEmulator
) -> None:
    """`ej-results` made by hand first: Stalled naming it, left as it was; once it is deleted,
    the results land and the EvalJob succeeds."""
    theirs = {"metadata": {"name": "ej-results"}, "data": {"notes": "mine, do not touch"}}
    cluster.core.create_namespaced_config_map(cluster.namespace, theirs)
    ready_benchmark(cluster)
    cluster.apply(evaljob_manifest("ej", "qa"))
    stalled = cluster.wait_condition("EvalJob", "ej", "Stalled", timeout=60)
    assert stalled["reason"] == "ResultsConfigMapTaken", stalled
    assert f"ConfigMap {cluster.namespace}/ej-results" in stalled["message"]
    assert "no owner" in stalled["message"]
    kept = cluster.config_map("ej-results")
    assert kept is not None
    assert kept.data == {"notes": "mine, do not touch"}
    assert not kept.metadata.owner_references
    assert cluster.must_get("EvalJob", "ej")["status"]["phase"] not in ("Succeeded", "Failed")
    warnings = [e for e in cluster.events("ej") if e.reason == "ResultsConfigMapTaken"]
    assert len(warnings) == 1, warnings
    cluster.core.delete_namespaced_config_map("ej-results", cluster.namespace)
    done = cluster.wait_phase("ej", "Succeeded", timeout=60)
    ours = cluster.config_map("ej-results")
    assert ours is not None
    assert ours.metadata.owner_references[0].uid == done["metadata"]["uid"]
    assert "results.json" in ours.data

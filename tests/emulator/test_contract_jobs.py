"""Jobs and results through NVIDIA's SDK (strict validation): create, list, get, cancel, delete,
status, results, downloads, and the llama-stack style calls."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx
import pytest
from nemo_microservices import (
    BadRequestError,
    ConflictError,
    NeMoMicroservices,
    NotFoundError,
    UnprocessableEntityError,
)

from nemo_evaluator_emulator.control import EmulatorControl

from .payloads import custom_config, model_target

pytestmark = pytest.mark.emulator


def _setup(sdk: NeMoMicroservices) -> None:
    sdk.evaluation.configs.create(**custom_config())
    sdk.evaluation.targets.create(**model_target())


def _finish(control: EmulatorControl) -> None:
    control.advance(60)


def test_create_by_reference_embeds_resolved_objects(sdk: NeMoMicroservices) -> None:
    _setup(sdk)
    config = sdk.evaluation.configs.retrieve("qa-bleu", namespace="team-a")
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    assert job.id is not None
    assert job.id.startswith("eval-")
    assert job.status == "created"
    assert job.namespace == "default"
    assert job.config.id == config.id
    assert job.config.tasks is not None
    assert set(job.config.tasks) == {"qa", "judge"}
    assert job.target.name == "llama-8b"
    assert job.status_details is not None
    assert job.status_details.samples_processed == 0
    assert job.result is None
    assert sdk.evaluation.jobs.retrieve(job.id).config.id == config.id


def test_create_inline_objects(sdk: NeMoMicroservices) -> None:
    config = {"type": "gsm8k", "params": {"limit_samples": 10}}
    target = {
        "type": "model",
        "model": {"api_endpoint": {"url": "http://m/v1/completions", "model_id": "x"}},
    }
    job = sdk.evaluation.jobs.create(
        config=config, target=target, namespace="team-b", status="completed"
    )
    assert job.status == "created"  # status is server-owned: accepted, ignored
    assert job.namespace == "team-b"
    assert job.config.type == "gsm8k"
    assert job.config.params is not None
    assert job.config.params.limit_samples == 10
    assert job.target.type == "model"


def test_llama_stack_style_calls(emulator: Any, control: EmulatorControl) -> None:
    """register_benchmark, run_eval with a string model, job_status, job_cancel with `{}`."""
    with httpx.Client(base_url=emulator.base_url, timeout=10) as llama:
        registered = llama.post(
            "/v1/evaluation/configs",
            json={
                "namespace": "nvidia",
                "name": "mmlu-bench",
                "type": "mmlu",
                "params": {"limit_samples": 20},
            },
        )
        assert registered.status_code == 200
        control.freeze()
        run = llama.post(
            "/v1/evaluation/jobs",
            json={
                "config": "nvidia/mmlu-bench",
                "target": {"type": "model", "model": "meta/llama-3.1-8b-instruct"},
            },
        )
        assert run.status_code == 200
        job = run.json()
        assert job["config"]["name"] == "mmlu-bench"
        assert job["target"]["model"] == "meta/llama-3.1-8b-instruct"
        assert llama.get(f"/v1/evaluation/jobs/{job['id']}").json()["status"] == "created"
        cancelled = llama.post(f"/v1/evaluation/jobs/{job['id']}/cancel", json={})
        assert cancelled.status_code == 200
        assert cancelled.json()["id"] == job["id"]
        assert cancelled.json()["status"] == "cancelling"
        control.advance(5)
        assert llama.get(f"/v1/evaluation/jobs/{job['id']}").json()["status"] == "cancelled"
        assert llama.delete("/v1/evaluation/configs/nvidia/mmlu-bench").status_code == 200


def test_cancel_without_body_and_with_empty_object(
    sdk: NeMoMicroservices, http: httpx.Client
) -> None:
    _setup(sdk)
    first = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    second = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    assert first.id is not None
    assert second.id is not None
    body = sdk.evaluation.jobs.cancel(first.id)
    assert isinstance(body, dict)
    assert body["status"] == "cancelling"
    raw = http.post(f"/v1/evaluation/jobs/{second.id}/cancel", content=b"")
    assert raw.status_code == 200
    assert raw.json()["status"] == "cancelling"
    assert http.post(f"/v1/evaluation/jobs/{second.id}/cancel", json=[1]).status_code == 422


def test_unknown_reference_default_and_switches(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    sdk.evaluation.targets.create(**model_target())
    with pytest.raises(NotFoundError) as caught:
        sdk.evaluation.jobs.create(config="team-a/missing", target="team-a/llama-8b")
    assert caught.value.body == {"detail": "Evaluation config team-a/missing not found"}
    control.update_settings(unknown_ref_status=422)
    with pytest.raises(UnprocessableEntityError) as unprocessable:
        sdk.evaluation.jobs.create(config="team-a/missing", target="team-a/llama-8b")
    assert isinstance(unprocessable.value.body, dict)
    assert unprocessable.value.body["detail"][0]["loc"] == ["body", "config"]
    control.update_settings(unknown_ref_status=400)
    with pytest.raises(BadRequestError):
        sdk.evaluation.jobs.create(config={"type": "mmlu"}, target="nobody/nothing")
    assert sdk.evaluation.jobs.list().pagination is not None
    assert list(sdk.evaluation.jobs.list()) == []


def test_job_create_validation(http: httpx.Client) -> None:
    missing = http.post("/v1/evaluation/jobs", json={"config": {"type": "mmlu"}})
    assert missing.status_code == 422
    assert ["body", "target"] in [e["loc"] for e in missing.json()["detail"]]
    wrong = http.post("/v1/evaluation/jobs", json={"config": 42, "target": "a/b"})
    assert wrong.status_code == 422
    bad_field = http.post(
        "/v1/evaluation/jobs",
        json={
            "config": {"type": "mmlu"},
            "target": "a/b",
            "custom_fields": {"emulator.phase_seconds": "running=x"},
        },
    )
    assert bad_field.status_code == 422


def test_list_filters_search_sort_and_auto_pager(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    _setup(sdk)
    control.freeze()
    ids = []
    for i in range(5):
        fields = {"owner": "uid-1" if i % 2 == 0 else "uid-2", "index": str(i)}
        job = sdk.evaluation.jobs.create(
            config="team-a/qa-bleu",
            target="team-a/llama-8b",
            custom_fields=fields,
            namespace="ns-a",
        )
        ids.append(job.id)
        control.advance(0.001)
    control.force_job(str(ids[4]), "completed")

    owned = [j.id for j in sdk.evaluation.jobs.list(filter={"custom_fields": {"owner": "uid-1"}})]
    assert sorted(owned) == sorted([ids[0], ids[2], ids[4]])
    completed = [j.id for j in sdk.evaluation.jobs.list(filter={"status": "completed"})]
    assert completed == [ids[4]]
    assert list(sdk.evaluation.jobs.list(filter={"namespace": "elsewhere"})) == []
    by_config = list(
        sdk.evaluation.jobs.list(filter={"config": "team-a/qa-bleu", "namespace": "ns-a"})
    )
    assert len(by_config) == 5
    searched = [j.id for j in sdk.evaluation.jobs.list(search={"status": ["complet", "nothing"]})]
    assert searched == [ids[4]]

    control.clear_requests()
    oldest_first = [j.id for j in sdk.evaluation.jobs.list(page_size=2, sort="created_at")]
    assert oldest_first == ids
    pages = [r["query"] for r in control.requests(path_prefix="/v1/evaluation/jobs")]
    assert len(pages) == 4  # 2 + 2 + 1, then the empty page that stops the pager
    newest_first = [j.id for j in sdk.evaluation.jobs.list(page_size=50)]
    assert newest_first == list(reversed(ids))


def test_filter_by_created_at_and_updated_at_sort(
    http: httpx.Client, control: EmulatorControl
) -> None:
    control.freeze()
    slow = {"emulator.phase_seconds": {"created": 0, "pending": 0, "running": 20}}
    body = {"config": {"type": "mmlu"}, "target": {"type": "rows"}}
    first = http.post("/v1/evaluation/jobs", json={**body, "custom_fields": slow}).json()
    control.advance(1)
    second = http.post("/v1/evaluation/jobs", json=body).json()
    page = http.get(
        "/v1/evaluation/jobs", params={"filter[created_at][gt]": first["created_at"]}
    ).json()
    assert [j["id"] for j in page["data"]] == [second["id"]]
    assert page["filter"] == {"created_at": {"gt": first["created_at"]}}
    control.advance(30)  # second finished at +1.6 s, first only at +20 s
    by_update = http.get("/v1/evaluation/jobs", params={"sort": "-updated_at"}).json()
    assert [j["id"] for j in by_update["data"]] == [first["id"], second["id"]]
    by_creation = http.get("/v1/evaluation/jobs", params={"sort": "-created_at"}).json()
    assert [j["id"] for j in by_creation["data"]] == [second["id"], first["id"]]


def test_status_endpoint_has_only_status_details(
    sdk: NeMoMicroservices, http: httpx.Client
) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    raw = http.get(f"/v1/evaluation/jobs/{job.id}/status").json()
    assert set(raw) == {"message", "progress", "samples_processed", "task_status"}
    assert sdk.evaluation.jobs.status(str(job.id)).samples_processed is not None


def test_results_404_before_completion_and_switches(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    _setup(sdk)
    control.freeze()
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    job_id = str(job.id)
    with pytest.raises(NotFoundError) as caught:
        sdk.evaluation.jobs.results(job_id)
    assert isinstance(caught.value.body, dict)
    assert "created" in caught.value.body["detail"]
    control.update_settings(results_before_completion="empty")
    empty = sdk.evaluation.jobs.results(job_id)
    assert empty.job == job_id
    assert empty.tasks == {}
    control.update_settings(results_before_completion="409")
    with pytest.raises(ConflictError):
        sdk.evaluation.jobs.results(job_id)
    _finish(control)
    done = sdk.evaluation.jobs.retrieve(job_id)
    result = sdk.evaluation.jobs.results(job_id)
    assert done.result == result.id
    assert result.id is not None
    assert result.id.startswith("evaluation_result-")


def test_results_shape_one_entry_per_task_and_metric(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    _finish(control)
    result = sdk.evaluation.jobs.results(str(job.id))
    assert result.tasks is not None
    assert set(result.tasks) == {"qa", "judge"}
    qa = result.tasks["qa"].metrics
    assert qa is not None
    assert set(qa) == {"bleu", "exact"}
    assert set(qa["bleu"].scores or {}) == {"sentence", "corpus"}
    judge = result.tasks["judge"].metrics or {}
    assert set(judge["llm-judge"].scores or {}) == {"similarity"}
    exact = (qa["exact"].scores or {})["string-check"]
    assert 0.0 <= exact.value <= 1.0
    assert exact.stats is not None
    assert exact.stats.count == 50
    assert exact.stats.mean == exact.value
    assert result.groups == {}


@pytest.mark.parametrize(
    ("config_type", "task", "metric", "score"),
    [
        ("mmlu", "mmlu_stem", "acc", "acc"),
        ("gsm8k", "gsm8k", "exact_match", "strict-match"),
        ("ifeval", "ifeval", "prompt_level_strict_acc", "prompt_level_strict_acc"),
        ("humaneval", "humaneval", "pass@1", "pass@1"),
        ("some_new_benchmark", "some_new_benchmark", "accuracy", "accuracy"),
    ],
)
def test_academic_types_get_a_plausible_metric_set(
    http: httpx.Client,
    control: EmulatorControl,
    config_type: str,
    task: str,
    metric: str,
    score: str,
) -> None:
    job = http.post(
        "/v1/evaluation/jobs", json={"config": {"type": config_type}, "target": {"type": "rows"}}
    ).json()
    control.advance(60)
    result = http.get(f"/v1/evaluation/jobs/{job['id']}/results").json()
    assert 0.0 < result["tasks"][task]["metrics"][metric]["scores"][score]["value"] < 1.0
    if config_type == "mmlu":
        assert set(result["groups"]["mmlu"]["metrics"]["acc"]["scores"]) == {"acc"}


def test_retriever_results_live_in_groups(http: httpx.Client, control: EmulatorControl) -> None:
    job = http.post(
        "/v1/evaluation/jobs",
        json={"config": {"type": "retriever"}, "target": {"type": "retriever"}},
    )
    control.advance(60)
    result = http.get(f"/v1/evaluation/jobs/{job.json()['id']}/results").json()
    assert result["tasks"] == {}
    assert "ndcg_cut_5" in result["groups"]["evaluation"]["metrics"]["evaluation"]["scores"]


def test_identical_inputs_give_identical_scores(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    _setup(sdk)
    sdk.evaluation.targets.create(**model_target(name="other", model_id="another/model"))
    a = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    b = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    c = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/other")
    _finish(control)
    ra, rb, rc = (sdk.evaluation.jobs.results(str(j.id)) for j in (a, b, c))
    assert a.id != b.id
    assert ra.id != rb.id
    assert ra.model_dump()["tasks"] == rb.model_dump()["tasks"]
    assert ra.model_dump()["tasks"] != rc.model_dump()["tasks"]


def test_big_results_through_padding(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    _setup(sdk)
    fields = {"emulator.results_padding_bytes": 3 * 1024 * 1024}
    job = sdk.evaluation.jobs.create(
        config="team-a/qa-bleu", target="team-a/llama-8b", custom_fields=fields
    )
    _finish(control)
    raw = http.get(f"/v1/evaluation/jobs/{job.id}/results")
    assert len(raw.content) > 3 * 1024 * 1024
    parsed = sdk.evaluation.jobs.results(str(job.id))
    assert parsed.tasks is not None
    assert parsed.tasks["qa"].metrics is not None


def test_download_results_and_logs_are_zip_files(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    job_id = str(job.id)
    logs = sdk.evaluation.jobs.with_raw_response.download_logs(job_id)
    assert logs.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(logs.http_response.content)) as archive:
        assert f"logs/{job_id}.log" in archive.namelist()
    # The SDK types download_logs as JSON `object`: strict validation rejects any ZIP (as it would
    # from the real service); the default lenient client hands back the body decoded as text.
    with NeMoMicroservices(base_url=str(sdk.base_url), max_retries=0) as lenient:
        assert isinstance(lenient.evaluation.jobs.download_logs(job_id), str)
    _finish(control)
    download = sdk.evaluation.jobs.download_results(job_id)
    with zipfile.ZipFile(io.BytesIO(download.read())) as archive:
        names = set(archive.namelist())
        assert {
            "results/results.json",
            "config.json",
            "target.json",
            "logs/evaluation.log",
        } <= names
        stored = json.loads(archive.read("results/results.json"))
        target = json.loads(archive.read("target.json"))
        log_text = archive.read("logs/evaluation.log").decode()
    assert stored == http.get(f"/v1/evaluation/jobs/{job_id}/results").json()
    assert target["model"]["api_endpoint"]["api_key"] == "***"
    assert "status=completed" in log_text


def test_delete_job_and_switches(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    job_id = str(job.id)
    raw = http.delete(f"/v1/evaluation/jobs/{job_id}")
    assert raw.status_code == 204
    assert raw.content == b""
    with pytest.raises(NotFoundError):
        sdk.evaluation.jobs.retrieve(job_id)
    with pytest.raises(NotFoundError):
        sdk.evaluation.jobs.delete(job_id)
    other = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    assert sdk.evaluation.jobs.delete(str(other.id)) is None

    control.update_settings(delete_running="refuse", job_delete_status=200)
    running = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    with pytest.raises(ConflictError):
        sdk.evaluation.jobs.delete(str(running.id))
    _finish(control)
    deleted = http.delete(f"/v1/evaluation/jobs/{running.id}")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == running.id


def test_cancel_terminal_job_default_409_or_noop(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    _finish(control)
    with pytest.raises(ConflictError) as caught:
        sdk.evaluation.jobs.cancel(str(job.id))
    assert isinstance(caught.value.body, dict)
    assert "completed" in caught.value.body["detail"]
    control.update_settings(cancel_terminal="noop")
    body = sdk.evaluation.jobs.cancel(str(job.id))
    assert isinstance(body, dict)
    assert body["status"] == "completed"


def test_result_entities(sdk: NeMoMicroservices, control: EmulatorControl) -> None:
    _setup(sdk)
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    _finish(control)
    produced = sdk.evaluation.jobs.results(str(job.id))
    listed = list(sdk.evaluation.results.list(filter={"job_id": str(job.id)}))
    assert [r.id for r in listed] == [produced.id]
    patched = sdk.evaluation.results.update(str(produced.id), description="reviewed")
    assert patched.description == "reviewed"
    assert sdk.evaluation.jobs.results(str(job.id)).description == "reviewed"
    posted = sdk.evaluation.results.create(job="eval-external", tasks={})
    assert sdk.evaluation.results.retrieve(str(posted.id)).job == "eval-external"
    sdk.evaluation.results.delete(str(produced.id))
    with pytest.raises(NotFoundError):
        sdk.evaluation.jobs.results(str(job.id))
    with pytest.raises(NotFoundError):
        sdk.evaluation.results.retrieve(str(produced.id))


def test_live_evaluation(sdk: NeMoMicroservices) -> None:
    live = sdk.evaluation.live(
        config={"type": "gsm8k", "params": {"limit_samples": 5}}, target={"type": "rows"}
    )
    assert live.status == "completed"
    assert live.result is not None
    assert live.result.tasks is not None
    assert "gsm8k" in live.result.tasks
    assert list(sdk.evaluation.jobs.list()) == []


def test_health(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_academic_types_rejected_when_switched_off(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    """`academic_types: reject`: 422 naming `type` on config create, PATCH and inline jobs."""
    _setup(sdk)
    sdk.evaluation.configs.create(type="mmlu", name="mmlu-before", namespace="team-a")
    control.update_settings(academic_types="reject")
    with pytest.raises(UnprocessableEntityError) as created:
        sdk.evaluation.configs.create(type="gsm8k", name="gsm8k", namespace="team-a")
    assert isinstance(created.value.body, dict)
    (error,) = created.value.body["detail"]
    assert error["loc"] == ["body", "type"]
    assert "'gsm8k' is not available" in error["msg"]
    with pytest.raises(UnprocessableEntityError):
        sdk.evaluation.configs.update("qa-bleu", path_namespace="team-a", type="mmlu")
    with pytest.raises(UnprocessableEntityError) as by_reference:  # stored before the switch
        sdk.evaluation.jobs.create(config="team-a/mmlu-before", target="team-a/llama-8b")
    assert isinstance(by_reference.value.body, dict)
    assert by_reference.value.body["detail"][0]["loc"] == ["body", "config", "type"]
    job = sdk.evaluation.jobs.create(config="team-a/qa-bleu", target="team-a/llama-8b")
    assert job.status == "created"  # custom evaluations are untouched

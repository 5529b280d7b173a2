"""Configs and targets through NVIDIA's SDK, strict response validation on: CRUD, 404/409/422."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from nemo_microservices import (
    ConflictError,
    NeMoMicroservices,
    NotFoundError,
    UnprocessableEntityError,
)

from nemo_evaluator_emulator.control import EmulatorControl

from .payloads import custom_config, model_target

pytestmark = pytest.mark.emulator

NAIVE_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def _assert_validation_detail(body: object, loc: list[object]) -> None:
    assert isinstance(body, dict)
    detail = body["detail"]
    assert isinstance(detail, list)
    assert any(entry["loc"] == loc for entry in detail), detail
    for entry in detail:
        assert {"loc", "msg", "type"} <= set(entry)


def test_config_crud_round_trip(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    created = sdk.evaluation.configs.create(**custom_config())
    assert created.id is not None
    assert created.id.startswith("evaluation_config-")
    assert (created.namespace, created.name, created.type) == ("team-a", "qa-bleu", "custom")
    assert created.params is not None
    assert created.params.limit_samples == 50
    assert created.tasks is not None
    assert set(created.tasks) == {"qa", "judge"}

    raw = http.get("/v1/evaluation/configs/team-a/qa-bleu").json()
    assert NAIVE_ISO.match(raw["created_at"])
    assert raw["created_at"] == raw["updated_at"]

    fetched = sdk.evaluation.configs.retrieve("qa-bleu", namespace="team-a")
    assert fetched.id == created.id

    updated = sdk.evaluation.configs.update("qa-bleu", path_namespace="team-a", description="v2")
    assert updated.description == "v2"
    assert updated.id == created.id
    assert updated.updated_at is not None
    assert created.created_at is not None
    assert updated.updated_at >= created.created_at
    assert updated.tasks is not None
    assert set(updated.tasks) == {"qa", "judge"}

    deleted = sdk.evaluation.configs.delete("qa-bleu", namespace="team-a")
    assert deleted.id == created.id
    assert deleted.message
    with pytest.raises(NotFoundError):
        sdk.evaluation.configs.retrieve("qa-bleu", namespace="team-a")


def test_defaults_namespace_and_name(sdk: NeMoMicroservices) -> None:
    created = sdk.evaluation.configs.create(type="mmlu")
    assert created.namespace == "default"
    assert created.name == created.id
    assert isinstance(created.created_at, datetime)
    assert created.created_at.tzinfo is None


def test_duplicate_name_is_409_once(sdk: NeMoMicroservices, control: EmulatorControl) -> None:
    sdk.evaluation.configs.create(**custom_config())
    control.clear_requests()
    with pytest.raises(ConflictError) as caught:
        sdk.evaluation.configs.create(**custom_config())
    assert caught.value.status_code == 409
    assert isinstance(caught.value.body, dict)
    assert isinstance(caught.value.body["detail"], str)
    assert "team-a/qa-bleu" in caught.value.body["detail"]
    assert len(control.requests(method="POST")) == 1  # max_retries=0: no retry of the 409
    # same name in another namespace is fine
    sdk.evaluation.configs.create(**custom_config(namespace="team-b"))


def test_patch_rename_onto_taken_name_is_409(sdk: NeMoMicroservices) -> None:
    sdk.evaluation.configs.create(**custom_config(name="a"))
    sdk.evaluation.configs.create(**custom_config(name="b"))
    with pytest.raises(ConflictError):
        sdk.evaluation.configs.update("a", path_namespace="team-a", name="b")
    renamed = sdk.evaluation.configs.update("a", path_namespace="team-a", name="c")
    assert renamed.name == "c"
    with pytest.raises(NotFoundError):
        sdk.evaluation.configs.retrieve("a", namespace="team-a")


def test_missing_and_unknown_404_bodies(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        sdk.evaluation.configs.retrieve("nope", namespace="team-a")
    assert caught.value.body == {"detail": "Evaluation config team-a/nope not found"}
    with pytest.raises(NotFoundError):
        sdk.evaluation.targets.delete("nope", namespace="team-a")
    unknown = http.get("/v1/evaluation/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    assert http.put("/v1/evaluation/configs").status_code == 405


def test_config_validation_errors_are_422(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        sdk.post("/v1/evaluation/configs", body={"name": "x"}, cast_to=object)
    _assert_validation_detail(caught.value.body, ["body", "type"])

    wrong = http.post(
        "/v1/evaluation/configs", json={"type": "custom", "params": {"limit_samples": "many"}}
    )
    assert wrong.status_code == 422
    _assert_validation_detail(wrong.json(), ["body", "params", "limit_samples"])

    malformed = http.post(
        "/v1/evaluation/configs",
        content=b'{"type": "custom",',
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["type"] == "json_invalid"

    not_object = http.post("/v1/evaluation/configs", json=["custom"])
    assert not_object.status_code == 422


def test_patch_that_breaks_the_entity_is_422(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    sdk.evaluation.configs.create(**custom_config())
    response = http.patch("/v1/evaluation/configs/team-a/qa-bleu", json={"type": None})
    assert response.status_code == 422
    _assert_validation_detail(response.json(), ["body", "type"])


def test_target_crud_keeps_model_and_key(sdk: NeMoMicroservices) -> None:
    created = sdk.evaluation.targets.create(**model_target())
    assert created.id is not None
    assert created.id.startswith("evaluation_target-")
    assert not isinstance(created.model, str)
    assert created.model is not None
    assert created.model.api_endpoint is not None
    assert created.model.api_endpoint.api_key == "sk-test-123"
    string_model = sdk.evaluation.targets.create(
        type="model", name="urn", model="meta/llama-3.1-8b-instruct"
    )
    assert string_model.model == "meta/llama-3.1-8b-instruct"
    rows = sdk.evaluation.targets.create(type="rows", rows=[{"prompt": "p", "expected": "e"}])
    assert rows.rows == [{"prompt": "p", "expected": "e"}]

    updated = sdk.evaluation.targets.update("llama-8b", namespace="team-a", description="prod")
    assert updated.description == "prod"
    assert sdk.evaluation.targets.delete("urn", namespace="default").id == string_model.id


def test_target_bad_type_is_422(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    response = http.post("/v1/evaluation/targets", json={"type": "spaceship"})
    assert response.status_code == 422
    _assert_validation_detail(response.json(), ["body", "type"])
    bad_endpoint = http.post(
        "/v1/evaluation/targets", json={"type": "model", "model": {"api_endpoint": {"url": "x"}}}
    )
    assert bad_endpoint.status_code == 422


def test_list_paging_envelope_and_auto_pager(sdk: NeMoMicroservices, http: httpx.Client) -> None:
    for i in range(5):
        sdk.evaluation.configs.create(type="gsm8k", name=f"c{i}", namespace="paging")
    page = http.get(
        "/v1/evaluation/configs", params={"page": 2, "page_size": 2, "sort": "created_at"}
    ).json()
    assert set(page) == {"object", "data", "pagination", "sort", "filter", "search"}
    assert page["object"] == "list"
    assert page["sort"] == "created_at"
    assert page["pagination"] == {
        "page": 2, "page_size": 2, "current_page_size": 2, "total_pages": 3, "total_results": 5,
    }  # fmt: skip
    assert [c["name"] for c in page["data"]] == ["c2", "c3"]
    past_end = http.get("/v1/evaluation/configs", params={"page": 9, "page_size": 2})
    assert past_end.status_code == 200
    assert past_end.json()["data"] == []

    names = [c.name for c in sdk.evaluation.configs.list(page_size=2, sort="created_at")]
    assert names == [f"c{i}" for i in range(5)]
    newest_first = [c.name for c in sdk.evaluation.configs.list(page_size=10, sort="-created_at")]
    assert newest_first == [f"c{i}" for i in reversed(range(5))]


def test_list_filter_and_search(sdk: NeMoMicroservices) -> None:
    sdk.evaluation.configs.create(
        type="gsm8k", name="math", namespace="n1", custom_fields={"team": "blue"}
    )
    sdk.evaluation.configs.create(
        type="mmlu", name="know", namespace="n1", custom_fields={"team": "red"}
    )
    sdk.evaluation.configs.create(type="mmlu", name="know", namespace="n2")
    by_ns = sdk.evaluation.configs.list(filter={"namespace": "n1"})
    assert sorted(c.name or "" for c in by_ns) == ["know", "math"]
    by_type = sdk.evaluation.configs.list(filter={"type": "mmlu", "namespace": "n2"})
    assert [c.namespace for c in by_type] == ["n2"]
    by_field = sdk.evaluation.configs.list(filter={"custom_fields": {"team": "blue"}})
    assert [c.name for c in by_field] == ["math"]
    searched = sdk.evaluation.configs.list(search={"name": ["mat", "zzz"]})
    assert [c.name for c in searched] == ["math"]


def test_list_query_errors_are_422(http: httpx.Client) -> None:
    for params in ({"page": "x"}, {"page": 0}, {"page_size": 0}, {"sort": "name"}):
        response = http.get("/v1/evaluation/configs", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][0] == "query"
    bad_date = http.get("/v1/evaluation/jobs", params={"filter[created_at][gte]": "yesterday"})
    assert bad_date.status_code == 422

"""The table model server over HTTP, as a separate process (``run_model_server``).

One process serves the module; each test starts from the module's table with no rules and an
empty request log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openai_table_server.testing import RunningModelServer, run_model_server

TABLE: dict[str, Any] = {
    "good": {"answers": {"What is 2+2?": "4", "Capital of France?": "Paris"}},
    "stubborn": {"answers": {"What is 2+2?": "5"}, "default": "No."},
    "broken": {"answers": {"Fail me": {"text": "", "status": 500}}},
}
SLOW = 1.0  # seconds a slow rule adds


@pytest.fixture(scope="module")
def server() -> Iterator[RunningModelServer]:
    with run_model_server(TABLE) as running:
        yield running


@pytest.fixture
def model(server: RunningModelServer) -> RunningModelServer:
    server.set_table(TABLE)
    server.clear_rules()
    server.clear_requests()
    return server


@pytest.fixture
def http(model: RunningModelServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=model.base_url, timeout=30, trust_env=False) as client:
        yield client


def chat(http: httpx.Client, model: str, prompt: str, **headers: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
    return http.post("/v1/chat/completions", json=body, headers=headers)


def answer_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def test_chat_answers_from_the_table(http: httpx.Client) -> None:
    response = chat(http, "good", "What is 2+2?")
    assert answer_of(response) == "4"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "good"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert answer_of(chat(http, "stubborn", "What is 2+2?")) == "5"


def test_chat_reads_text_parts_and_trims_the_prompt(http: httpx.Client) -> None:
    parts = [{"type": "text", "text": "  Capital of "}, {"type": "text", "text": "France?\n"}]
    body = {"model": "good", "messages": [{"role": "user", "content": parts}]}
    assert answer_of(http.post("/v1/chat/completions", json=body)) == "Paris"


def test_completions_answer_from_the_table(http: httpx.Client) -> None:
    response = http.post("/v1/completions", json={"model": "good", "prompt": "Capital of France?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Paris"


def test_unknown_prompt_gets_the_default_answer(http: httpx.Client) -> None:
    assert answer_of(chat(http, "good", "What is 3*3?")) == "I do not know."
    assert answer_of(chat(http, "stubborn", "What is 3*3?")) == "No."


def test_unknown_model_is_404(http: httpx.Client) -> None:
    response = chat(http, "nobody", "What is 2+2?")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_slow_rule_delays_only_matching_prompts(
    model: RunningModelServer, http: httpx.Client
) -> None:
    model.add_rule(contains="2+2", model="good", delay=SLOW)
    began = time.monotonic()
    assert answer_of(chat(http, "good", "What is 2+2?")) == "4"
    slow = time.monotonic() - began
    began = time.monotonic()
    assert answer_of(chat(http, "good", "Capital of France?")) == "Paris"
    fast = time.monotonic() - began
    assert SLOW <= slow < SLOW + 5
    assert fast < SLOW


def test_failing_rule_applies_only_times_times(
    model: RunningModelServer, http: httpx.Client
) -> None:
    model.add_rule(contains="France", status=503, times=2)
    codes = [chat(http, "good", "Capital of France?").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert answer_of(chat(http, "good", "Capital of France?")) == "Paris"
    assert [e["status"] for e in model.requests()] == [503, 503, 200, 200]


def test_slow_rule_keeps_a_failure_from_the_table(
    model: RunningModelServer, http: httpx.Client
) -> None:
    """A rule that only adds a delay must not turn a failing table answer into a success."""
    model.add_rule(contains="", delay=0.01)
    assert chat(http, "broken", "Fail me").status_code == 500


def test_request_log_records_each_request(model: RunningModelServer, http: httpx.Client) -> None:
    chat(http, "good", "What is 2+2?", authorization="Bearer sk-test-123")
    chat(http, "stubborn", "Anything?")
    chat(http, "nobody", "Hello?")
    log = model.requests()
    assert [(e["model"], e["prompt"], e["status"]) for e in log] == [
        ("good", "What is 2+2?", 200),
        ("stubborn", "Anything?", 200),
        ("nobody", "Hello?", 404),
    ]
    first = log[0]
    assert first["authorization"] == "Bearer sk-test-123"
    assert first["path"] == "/v1/chat/completions"
    assert first["answer"] == "4"
    assert log[1]["authorization"] is None
    assert [e["prompt"] for e in model.requests(model="stubborn")] == ["Anything?"]
    assert model.clear_requests() == 3
    assert model.requests() == []


def test_models_lists_the_table(model: RunningModelServer, http: httpx.Client) -> None:
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["good", "stubborn", "broken"]
    assert model.set_table({"other": {"answers": {}}}) == ["other"]
    assert [m["id"] for m in http.get("/v1/models").json()["data"]] == ["other"]

"""Fault injection and the request log, each observed from a client."""

from __future__ import annotations

import time

import httpx
import pytest
from nemo_microservices import (
    APIConnectionError,
    InternalServerError,
    NeMoMicroservices,
    RateLimitError,
)

from nemo_evaluator_emulator.control import EmulatorControl
from nemo_evaluator_emulator.testing import RunningEmulator

from .payloads import model_target

pytestmark = pytest.mark.emulator


def _retrying_sdk(emulator: RunningEmulator, retries: int) -> NeMoMicroservices:
    return NeMoMicroservices(base_url=emulator.base_url, max_retries=retries, timeout=5)


def test_status_fault_with_count(sdk: NeMoMicroservices, control: EmulatorControl) -> None:
    fault = control.add_fault("POST", "/v1/evaluation/configs", status=503, count=2, detail="busy")
    for _ in range(2):
        with pytest.raises(InternalServerError) as caught:
            sdk.evaluation.configs.create(type="mmlu")
        assert caught.value.status_code == 503
        assert caught.value.body == {"detail": "busy"}
    assert sdk.evaluation.configs.create(type="mmlu").type == "mmlu"
    rule = next(r for r in control.faults() if r["id"] == fault)
    assert (rule["hits"], rule["remaining"]) == (2, 0)


def test_method_and_path_pattern_scope(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    control.add_fault("GET", "/v1/evaluation/jobs/*", status=500)
    created = http.post(
        "/v1/evaluation/jobs", json={"config": {"type": "mmlu"}, "target": {"type": "rows"}}
    )
    assert created.status_code == 200
    assert (
        http.get("/v1/evaluation/jobs").status_code == 200
    )  # the glob needs a segment after jobs/
    assert http.get(f"/v1/evaluation/jobs/{created.json()['id']}").status_code == 500
    assert http.get(f"/v1/evaluation/jobs/{created.json()['id']}/status").status_code == 500


def test_x_should_retry_false_stops_sdk_retries(
    emulator: RunningEmulator, control: EmulatorControl
) -> None:
    control.add_fault("GET", "/v1/evaluation/configs", status=503, should_retry=False)
    with _retrying_sdk(emulator, retries=2) as client, pytest.raises(InternalServerError):
        client.evaluation.configs.list()
    assert len(control.requests(path_prefix="/v1/evaluation/configs")) == 1


def test_retry_after_is_honoured_and_sdk_recovers(
    emulator: RunningEmulator, control: EmulatorControl
) -> None:
    control.add_fault("GET", "/v1/evaluation/configs", status=429, count=2, retry_after=0.05)
    started = time.monotonic()
    with _retrying_sdk(emulator, retries=2) as client:
        page = client.evaluation.configs.list()
    assert page.data == []
    assert time.monotonic() - started < 2  # 2 retries at 50 ms, not the default 0.5-8 s backoff
    seen = control.requests(path_prefix="/v1/evaluation/configs")
    assert [r["status"] for r in seen] == [429, 429, 200]
    assert [r["fault"] is not None for r in seen] == [True, True, False]
    with _retrying_sdk(emulator, retries=0) as client:
        control.add_fault("GET", "/v1/evaluation/configs", status=429, count=1)
        with pytest.raises(RateLimitError):
            client.evaluation.configs.list()


def test_probability_is_seeded_and_bounded(http: httpx.Client, control: EmulatorControl) -> None:
    control.add_fault("GET", "/health", status=500, probability=0.5)
    codes = [http.get("/health").status_code for _ in range(40)]
    assert codes.count(500) > 5
    assert codes.count(200) > 5
    control.reset()
    control.add_fault("GET", "/health", status=500, probability=0.5)
    assert [http.get("/health").status_code for _ in range(40)] == codes  # same seed, same run
    control.reset()
    control.add_fault("GET", "/health", status=500, probability=0.0)
    assert {http.get("/health").status_code for _ in range(10)} == {200}


def test_latency(http: httpx.Client, control: EmulatorControl) -> None:
    control.add_fault("GET", "/health", latency_seconds=0.3, count=1)
    started = time.monotonic()
    assert http.get("/health").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    http.get("/health")
    assert time.monotonic() - started < 0.3


def test_latency_beyond_client_timeout(emulator: RunningEmulator, control: EmulatorControl) -> None:
    control.add_fault("GET", "/v1/evaluation/jobs", latency_seconds=1.0, count=1)
    client = NeMoMicroservices(base_url=emulator.base_url, max_retries=0, timeout=0.2)
    with client, pytest.raises(APIConnectionError):  # APITimeoutError is a subclass
        client.evaluation.jobs.list()


def test_dropped_connection(
    sdk: NeMoMicroservices, http: httpx.Client, control: EmulatorControl
) -> None:
    control.add_fault("POST", "/v1/evaluation/targets", drop=True, count=1)
    with pytest.raises(APIConnectionError):
        sdk.evaluation.targets.create(**model_target())
    assert sdk.evaluation.targets.create(**model_target()).name == "llama-8b"
    record = control.requests(method="POST")[0]
    assert (record["fault"], record["status"]) == ("rule:" + control.faults()[0]["id"], None)
    assert http.get("/health").status_code == 200  # the server itself is fine


def test_outage_with_status(http: httpx.Client, control: EmulatorControl) -> None:
    control.outage(0.5)
    down = http.get("/v1/evaluation/jobs")
    assert down.status_code == 503
    assert http.get("/health").status_code == 503
    assert control.state()["outage"] is not None  # control API still answers
    time.sleep(0.6)
    assert http.get("/v1/evaluation/jobs").status_code == 200
    assert control.state()["outage"] is None


def test_outage_dropping_connections(sdk: NeMoMicroservices, control: EmulatorControl) -> None:
    control.outage(30, mode="drop")
    with pytest.raises(APIConnectionError):
        sdk.evaluation.jobs.list()
    control.end_outage()
    assert sdk.evaluation.jobs.list().data == []


def test_request_log_keeps_bodies_and_secrets(
    sdk: NeMoMicroservices, control: EmulatorControl
) -> None:
    sdk.evaluation.targets.create(**model_target())
    sdk.evaluation.jobs.list(filter={"custom_fields": {"owner": "u-1"}})
    posted = control.requests(method="POST", path_prefix="/v1/evaluation/targets")
    assert len(posted) == 1
    assert posted[0]["body"]["model"]["api_endpoint"]["api_key"] == "sk-test-123"
    assert posted[0]["status"] == 200
    assert posted[0]["headers"]["content-type"] == "application/json"
    listed = control.requests(method="GET")[-1]
    assert "filter%5Bcustom_fields%5D%5Bowner%5D=u-1" in listed["query"]
    since = listed["seq"]
    sdk.evaluation.jobs.list()
    assert len(control.requests(since=since)) == 1
    control.clear_requests()
    assert control.requests() == []


def test_control_routes_are_never_faulted(control: EmulatorControl) -> None:
    control.add_fault("*", "*", status=500)
    control.outage(30)
    assert control.state()["faults"][0]["hits"] == 0
    assert not control.healthy()
    control.reset()
    assert control.healthy()
    assert control.faults() == []


def test_bad_control_input_is_422(http: httpx.Client) -> None:
    assert http.post("/_emulator/faults", json={"status": 42}).status_code == 422
    assert http.post("/_emulator/faults", json={"probability": 2}).status_code == 422
    assert http.post("/_emulator/outage", json={"seconds": -1}).status_code == 422
    assert http.patch("/_emulator/settings", json={"cancel_terminal": "maybe"}).status_code == 422
    assert (
        http.patch("/_emulator/settings", json={"phase_seconds": {"running": -1}}).status_code
        == 422
    )
    assert http.post("/_emulator/clock/advance", json={"seconds": -5}).status_code == 422
    assert http.delete("/_emulator/faults/fault-999").status_code == 404


def test_drop_after_processing(sdk: NeMoMicroservices, control: EmulatorControl) -> None:
    """The job is created, but the client never hears back (crash-between-POST-and-record)."""
    control.add_fault("POST", "/v1/evaluation/jobs", drop_after=True, count=1)
    with pytest.raises(APIConnectionError):
        sdk.evaluation.jobs.create(
            config={"type": "mmlu"}, target={"type": "rows"}, custom_fields={"uid": "u-7"}
        )
    found = list(sdk.evaluation.jobs.list(filter={"custom_fields": {"uid": "u-7"}}))
    assert len(found) == 1


def test_latency_after_processing(http: httpx.Client, control: EmulatorControl) -> None:
    control.add_fault("POST", "/v1/evaluation/jobs", latency_after_seconds=1.0, count=1)
    body = {"config": {"type": "mmlu"}, "target": {"type": "rows"}}
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v1/evaluation/jobs", json=body, timeout=0.3)
    assert (
        http.get("/v1/evaluation/jobs").json()["pagination"]["total_results"] == 1
    )  # it exists already

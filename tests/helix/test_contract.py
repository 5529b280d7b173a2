"""What the operator relies on from NeMo Helix, pinned against the real server.

If a Helix release changes one of these status codes or shapes, this file fails first, with
the call named, before the operator misbehaves somewhere less obvious. Each answer is also
parsed with the operator's own models of it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from nemo_evaluator_operator.evaluator.helix.definition import (
    job_spec,
    live_check_body,
    scores_from,
)
from nemo_evaluator_operator.evaluator.helix.models import HelixJob, HelixJobPage, HelixJobStatus
from nemo_evaluator_operator.evaluator.states import ACTIVE_STATES, STATES
from openai_table_server.testing import RunningModelServer
from tests.e2e.backends import EXACT_MATCH, SLOW_PROMPT
from tests.support.helix import HelixServer, demo_dataset

pytestmark = pytest.mark.helix

JOB_TIMEOUT = 240.0
TERMINAL = {"completed", "error", "cancelled"}


@dataclass
class Jobs:
    http: httpx.Client
    workspace: str
    done: str  # a completed job
    slow: str  # a job the model keeps running until it is cancelled

    def url(self, name: str = "", suffix: str = "") -> str:
        base = f"/apis/evals/v2/workspaces/{self.workspace}/evaluate/jobs"
        return f"{base}/{name}{suffix}" if name else base


def body(
    name: str, model: RunningModelServer, rows: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    evaluation = {
        "metrics": [EXACT_MATCH],
        "dataset": rows,
        "prompt_template": {"messages": [{"role": "user", "content": "{{item.question}}"}]},
        "params": {"max_retries": 0, "request_timeout": 900, "inference": {"max_tokens": 16}},
    }
    target = {"url": model.chat_url, "name": "good", "format": "openai"}
    return {
        "name": name,
        "custom_fields": {"evaljob_uid": name},
        "spec": {**job_spec(evaluation), "target": target},
        **extra,
    }


def wait_status(http: httpx.Client, url: str, wanted: set[str]) -> str:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        status = str(http.get(url).json()["status"])
        if status in wanted:
            return status
        time.sleep(0.5)
    raise AssertionError(f"{url} did not reach {wanted}")


@pytest.fixture(scope="module")
def jobs(helix: HelixServer, model_server: RunningModelServer) -> Iterator[Jobs]:
    """Two jobs posted at once (Helix runs them side by side): one completes, one hangs."""
    workspace = f"contract-{secrets.token_hex(3)}"
    model_server.add_rule(contains=SLOW_PROMPT, delay=900)
    with helix.client() as http:
        assert (
            http.post("/apis/entities/v2/workspaces", json={"name": workspace}).status_code == 201
        )
        found = Jobs(
            http, workspace, f"done-{secrets.token_hex(3)}", f"slow-{secrets.token_hex(3)}"
        )
        for name, rows in (
            (found.done, demo_dataset()),
            (found.slow, [{"question": SLOW_PROMPT, "expected": "x"}]),
        ):
            created = http.post(found.url(), json=body(name, model_server, rows))
            assert created.status_code == 201, created.text
            assert HelixJob.model_validate(created.json()).status == "created"
        wait_status(http, found.url(found.done), TERMINAL)
        wait_status(http, found.url(found.slow), {"active"})
        yield found
        with contextlib.suppress(httpx.TransportError):  # usually cancelled by a test already
            http.post(found.url(found.slow, "/cancel"))
    model_server.clear_rules()


def test_states_the_operator_maps_cover_what_helix_reports(jobs: Jobs) -> None:
    assert jobs.http.get(jobs.url(jobs.done)).json()["status"] == "completed"
    assert jobs.http.get(jobs.url(jobs.slow)).json()["status"] == "active"
    assert {"completed", "error", "cancelled"} <= set(STATES["helix"])
    assert "active" in ACTIVE_STATES["helix"]


def test_a_second_post_of_the_same_name_conflicts(
    jobs: Jobs, model_server: RunningModelServer
) -> None:
    again = jobs.http.post(jobs.url(), json=body(jobs.done, model_server, demo_dataset()))
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    job = HelixJob.model_validate(jobs.http.get(jobs.url(jobs.done)).json())
    assert job.custom_fields["evaljob_uid"] == jobs.done  # ours, so the operator can adopt it


def test_a_missing_secret_is_a_409_that_names_secrets(
    jobs: Jobs, model_server: RunningModelServer
) -> None:
    payload = body(f"nosecret-{secrets.token_hex(3)}", model_server, demo_dataset())
    payload["spec"]["target"]["api_key_secret"] = "does-not-exist"
    answer = jobs.http.post(jobs.url(), json=payload)
    assert answer.status_code == 409
    assert "secret" in answer.json()["detail"].lower()


def test_one_json_filter_lists_our_active_jobs(jobs: Jobs) -> None:
    where = {"name": {"$like": "slow-"}, "status": {"$in": list(ACTIVE_STATES["helix"])}}
    page = jobs.http.get(jobs.url(), params={"filter": json.dumps(where), "page_size": 100})
    assert page.status_code == 200
    names = [j.name for j in HelixJobPage.model_validate(page.json()).data]
    assert names == [jobs.slow]
    beyond = jobs.http.get(
        jobs.url(), params={"filter": json.dumps(where), "page": 2, "page_size": 100}
    )
    assert beyond.json()["data"] == []  # paging ends with an empty page


def test_custom_fields_cannot_be_filtered(jobs: Jobs) -> None:
    answer = jobs.http.get(jobs.url(), params={"filter[custom_fields.evaljob_uid]": jobs.done})
    assert answer.status_code == 400  # so the operator finds its jobs by name, not by tag


def test_delete_waits_for_a_terminal_state_and_cancel_of_a_terminal_job_is_a_no_op(
    jobs: Jobs,
) -> None:
    assert jobs.http.delete(jobs.url(jobs.slow)).status_code == 409
    done_cancel = jobs.http.post(jobs.url(jobs.done, "/cancel"))
    assert done_cancel.status_code == 200
    assert jobs.http.get(jobs.url(jobs.done)).json()["status"] == "completed"


def test_results_document_holds_the_aggregate_scores(jobs: Jobs) -> None:
    answer = jobs.http.get(jobs.url(jobs.done, "/results/evaluation-results/download"))
    assert answer.status_code == 200
    document = answer.json()
    assert {"row_scores", "aggregate_scores"} <= set(document)
    scores, stats = scores_from(document)
    assert scores == {"exact-match.exact-match": pytest.approx(1.0)}
    assert stats["exact-match.exact-match"].count == 5
    assert len(document["row_scores"]) == 5


def test_status_of_a_job_has_steps_with_tasks(jobs: Jobs) -> None:
    status = HelixJobStatus.model_validate(jobs.http.get(jobs.url(jobs.done, "/status")).json())
    assert status.status == "completed"
    assert status.steps
    assert status.steps[0].tasks


def test_cancel_is_asynchronous_then_the_job_can_be_deleted(helix: HelixServer, jobs: Jobs) -> None:
    assert jobs.http.post(jobs.url(jobs.slow, "/cancel")).status_code == 200
    assert wait_status(jobs.http, jobs.url(jobs.slow), {"cancelled"}) == "cancelled"
    assert jobs.http.delete(jobs.url(jobs.slow)).status_code == 204
    assert jobs.http.get(jobs.url(jobs.slow)).status_code == 404
    assert jobs.http.delete(jobs.url(jobs.slow)).status_code == 404


def test_live_checks_a_definition_on_one_row(jobs: Jobs) -> None:
    evaluation = {"metrics": [EXACT_MATCH], "dataset": demo_dataset(), "params": {"max_retries": 0}}
    live = f"/apis/evals/v2/workspaces/{jobs.workspace}/evaluate/live"
    ok = jobs.http.post(live, json=live_check_body(evaluation))
    assert ok.status_code == 200, ok.text
    assert ok.json()["metrics"][0]["error"] is None
    broken = {**EXACT_MATCH, "reference": "{{item.no_such_column}}"}
    bad_template = jobs.http.post(live, json=live_check_body({**evaluation, "metrics": [broken]}))
    assert bad_template.status_code == 502
    assert "no_such_column" in bad_template.json()["detail"]
    check = live_check_body(evaluation)
    assert check is not None
    check["metrics"][0]["outputs"][0]["name"] = "wrong"
    mismatch = jobs.http.post(live, json=check)
    assert mismatch.status_code == 422
    assert "output spec" in mismatch.json()["detail"]


def test_secrets_are_created_updated_and_deleted_without_echoing_values(jobs: Jobs) -> None:
    base = f"/apis/secrets/v2/workspaces/{jobs.workspace}/secrets"
    name = f"evaljob-{secrets.token_hex(4)}"
    created = jobs.http.post(base, json={"name": name, "value": "sk-contract"})
    assert created.status_code == 201
    assert "sk-contract" not in created.text
    assert jobs.http.post(base, json={"name": name, "value": "x"}).status_code == 409
    assert jobs.http.patch(f"{base}/{name}", json={"value": "sk-2"}).status_code == 200
    assert jobs.http.delete(f"{base}/{name}").status_code == 204
    assert jobs.http.delete(f"{base}/{name}").status_code == 404


def test_workspaces_conflict_when_they_exist_and_404_when_missing(helix: HelixServer) -> None:
    with helix.client() as http:
        name = f"ws-{secrets.token_hex(3)}"
        assert http.post("/apis/entities/v2/workspaces", json={"name": name}).status_code == 201
        assert http.post("/apis/entities/v2/workspaces", json={"name": name}).status_code == 409
        assert http.get(f"/apis/entities/v2/workspaces/{name}").status_code == 200
        assert http.get("/apis/entities/v2/workspaces/no-such-workspace").status_code == 404


def test_params_without_an_online_key_are_refused(
    jobs: Jobs, model_server: RunningModelServer
) -> None:
    payload = body(f"offline-{secrets.token_hex(3)}", model_server, demo_dataset())
    payload["spec"]["params"] = {"parallelism": 1}
    try:
        status = jobs.http.post(jobs.url(), json=payload).status_code
    except httpx.TransportError:
        status = 0  # Helix 0.8.1 may reset the connection instead of answering
    assert not 200 <= status < 300  # why the CRD requires one of the online keys

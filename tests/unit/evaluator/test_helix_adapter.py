"""The Helix adapter against an in-memory Helix: names, submission, polling, results, checks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from nemo_evaluator_operator.evaluator.errors import (
    ConflictError,
    EvaluatorAPIError,
    ForeignObjectError,
    InvalidDefinitionError,
    MissingSecretError,
    WrongAPIError,
)
from nemo_evaluator_operator.evaluator.helix.definition import target_for
from nemo_evaluator_operator.evaluator.helix.metrics import bundle_metrics
from nemo_evaluator_operator.evaluator.helix.naming import job_name_for, secret_name_for
from nemo_evaluator_operator.evaluator.port import (
    BenchmarkDefinition,
    BenchmarkSync,
    JobRef,
    JobState,
    Owner,
    SubmitRequest,
)

from .helix_fake import FakeHelix, helix_port

HELIX_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9\-@.+_]{1,62}(?<!-)$")
OWNER = Owner(uid="0b5c2a7e-1d2f-4c3b-9a8e-7f6d5c4b3a21", namespace="team-a", name="llama-qa")
EXACT = {"type": "exact-match", "reference": "{{item.a}}", "candidate": "{{sample.output_text}}"}
EVALUATION: dict[str, Any] = {
    "metrics": [EXACT, {"type": "bleu", "references": ["{{item.a}}"]}],
    "dataset": [{"q": "2+2?", "a": "4"}, {"q": "capital of Italy?", "a": "Rome"}],
    "prompt_template": {"messages": [{"role": "user", "content": "{{item.q}}"}]},
    "params": {"parallelism": 1, "max_retries": 1, "inference": {"max_tokens": 16}},
}
V1_TARGET = {
    "type": "model",
    "model": {"api_endpoint": {"url": "http://m/v1/chat/completions", "model_id": "good"}},
}


def definition(body: dict[str, Any] | None = None, api: str = "helix") -> BenchmarkDefinition:
    return BenchmarkDefinition(
        api=api,  # type: ignore[arg-type]
        namespace="default",
        name="team-a-qa-1234",
        body=body or EVALUATION,
        owner=Owner(uid="bm-uid", namespace="team-a", name="qa"),
    )


def request(owner: Owner = OWNER, api_key: str | None = None, **target: Any) -> SubmitRequest:
    return SubmitRequest(
        namespace="default",
        owner=owner,
        benchmark=definition(),
        target=target or V1_TARGET,
        api_key=api_key,
    )


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("team-a", "llama-qa"),
        ("n" * 63, "x" * 253),
        ("a--b", "c..d--e"),
        ("1team", "9-job-"),
        ("ns", "UPPER.case_name"),
    ],
)
def test_job_names_fit_helix_and_are_deterministic(namespace: str, name: str) -> None:
    owner = Owner(uid="u-1", namespace=namespace, name=name)
    job = job_name_for(owner)
    assert HELIX_NAME.fullmatch(job), job
    assert len(job) <= 51
    assert job == job_name_for(owner)
    assert job != job_name_for(Owner(uid="u-2", namespace=namespace, name=name))
    assert HELIX_NAME.fullmatch(secret_name_for(owner))


async def test_submit_posts_the_definition_once_and_adopts_on_a_second_post() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    job = await port.submit(request())
    assert job.ref == JobRef("default", job_name_for(OWNER))
    assert job.state is JobState.QUEUED
    assert not job.adopted
    (post,) = [b for m, p, b in fake.requests if m == "POST" and p.endswith("/evaluate/jobs")]
    assert post["name"] == job_name_for(OWNER)
    assert post["custom_fields"]["evaljob_uid"] == OWNER.uid
    assert post["spec"]["target"] == {
        "url": "http://m/v1/chat/completions",
        "name": "good",
        "format": "nim",
    }
    bundles = post["spec"]["metrics"]
    assert [b["metric_type"] for b in bundles] == ["exact-match", "bleu"]
    assert [o["name"] for o in bundles[1]["outputs"]] == ["sentence"]
    assert bundles[0]["payload"] == {"kind": "inline", "metric": EXACT}
    assert post["spec"]["dataset"] == EVALUATION["dataset"]

    again = await port.submit(request())
    assert again.adopted
    assert again.ref == job.ref
    assert len(fake.jobs) == 1


async def test_a_job_with_our_name_but_another_owner_is_not_adopted() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    await port.submit(request())
    fake.jobs[("default", job_name_for(OWNER))]["custom_fields"]["evaljob_uid"] = "someone"
    with pytest.raises(ForeignObjectError):
        await port.submit(request())
    assert await port.find_jobs("default", OWNER) == []


async def test_api_key_goes_into_a_workspace_secret_not_the_job() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    await port.submit(request(api_key="sk-canary"))
    name = secret_name_for(OWNER)
    assert fake.secrets[("default", name)] == "sk-canary"
    post = next(b for m, p, b in fake.requests if m == "POST" and p.endswith("/evaluate/jobs"))
    assert post["spec"]["target"]["api_key_secret"] == name
    assert "sk-canary" not in json.dumps(post)
    await port.submit(request(api_key="sk-rotated"))  # 409 on the secret: updated in place
    assert fake.secrets[("default", name)] == "sk-rotated"
    await port.release("default", OWNER)
    await port.release("default", OWNER)  # already gone counts as done
    assert fake.secrets == {}


async def test_a_missing_referenced_secret_is_told_apart_from_a_taken_name() -> None:
    port = helix_port(FakeHelix())
    target = {"url": "http://m/v1/chat/completions", "name": "good", "api_key_secret": "nope"}
    with pytest.raises(MissingSecretError, match="referenced secrets"):
        await port.submit(request(**target))


async def test_one_batch_reads_a_workspace_by_name_in_one_request() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    owners = [Owner(uid=f"u-{n}", namespace="ns", name=f"ej-{n}") for n in range(5)]
    refs = [(await port.submit(request(owner=o))).ref for o in owners]
    fake.jobs[("default", refs[0].job_id)]["status"] = "active"
    fake.jobs[("default", refs[1].job_id)]["status"] = "completed"
    fake.requests.clear()
    gone = JobRef("default", "ej-gone-00000000")
    batch = await port.observe_many([*refs, gone])
    assert batch.jobs[refs[0]].state is JobState.RUNNING
    assert batch.jobs[refs[1]].state is JobState.SUCCEEDED  # finished jobs need no extra read
    assert batch.missing == {gone}
    assert fake.paths() == ["/apis/evals/v2/workspaces/default/evaluate/jobs"]


async def test_a_failed_job_reports_the_end_of_its_error_stack() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    ref = (await port.submit(request())).ref
    key = ("default", ref.job_id)
    fake.jobs[key].update(status="error", status_details={"message": "Job exited with code 1"})
    fake.errors[key] = "Traceback ...\n" + "x" * 5000 + "\nKeyError: 'nope' is missing"
    job = await port.observe(ref)
    assert job.state is JobState.FAILED
    assert job.message is not None
    assert job.message.startswith("Job exited with code 1: …")
    assert job.message.endswith("KeyError: 'nope' is missing")
    assert len(job.message) < 2200


async def test_results_are_the_evaluation_document_with_mean_scores() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    ref = (await port.submit(request())).ref
    document = {
        "row_scores": [{"row_index": 0}],
        "aggregate_scores": {
            "scores": [
                {"name": "exact-match.exact-match", "mean": 0.6, "count": 5, "sample_std_dev": 0.5},
                {"name": "bleu.sentence", "mean": None, "count": 0},
                {"name": "nan.score", "mean": float("nan")},
            ]
        },
    }
    fake.results[("default", ref.job_id)] = document
    results = await port.results(ref)
    assert results.scores == {"exact-match.exact-match": 0.6}
    assert results.document["row_scores"] == [{"row_index": 0}]
    stats = results.stats["exact-match.exact-match"]
    assert stats.count == 5
    assert stats.std_err == pytest.approx(0.5 / 5**0.5)


async def test_cancel_then_delete_conflicts_until_terminal() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    ref = (await port.submit(request())).ref
    await port.cancel(ref)
    assert (await port.observe(ref)).state is JobState.CANCELLING
    with pytest.raises(ConflictError):
        await port.delete(ref)
    fake.jobs[("default", ref.job_id)]["status"] = "cancelled"
    await port.delete(ref)
    assert fake.jobs == {}


async def test_sync_checks_the_definition_with_live_and_creates_the_workspace() -> None:
    fake = FakeHelix()
    port = helix_port(fake)
    spec = {**EVALUATION, "field_mapping": {"reference": "a"}}
    result = await port.sync_benchmark(BenchmarkDefinition("helix", "new-ws", "n", spec, OWNER))
    assert result.change is BenchmarkSync.VALIDATED
    assert result.score_names == ("exact-match.exact-match", "bleu.sentence", "bleu.corpus")
    assert "new-ws" in fake.workspaces
    live = next(b for m, p, b in fake.requests if p.endswith("/evaluate/live"))
    assert live["dataset"] == [{"q": "2+2?", "a": "4", "output": "operator validation"}]
    assert live["field_mapping"] == {"reference": "a"}
    assert [b["metric_type"] for b in live["metrics"]] == ["exact-match", "bleu"]


BAD = InvalidDefinitionError


@pytest.mark.parametrize(
    ("status", "answer", "error", "text"),
    [
        (200, {"metrics": [{"metric": "bleu", "error": "cannot render"}]}, BAD, "cannot render"),
        (502, {"detail": "exact-match: missing_key='nope'"}, BAD, "missing_key"),
        (422, {"detail": "unbundled metric output spec differs"}, EvaluatorAPIError, "output spec"),
        (502, "<html>Bad Gateway</html>", EvaluatorAPIError, "502"),
    ],
)
async def test_sync_reports_what_helix_says(
    status: int, answer: Any, error: type[Exception], text: str
) -> None:
    fake = FakeHelix(live_answer=(status, answer))
    with pytest.raises(error, match=text):
        await helix_port(fake).sync_benchmark(definition())


async def test_sync_refuses_a_v1_benchmark_and_workspace_creation_can_be_off() -> None:
    port = helix_port(FakeHelix(), create_workspaces=False)
    with pytest.raises(WrongAPIError, match=r"spec\.evaluation"):
        await port.sync_benchmark(definition({"type": "mmlu"}, api="v1"))
    with pytest.raises(EvaluatorAPIError, match="not found"):
        await port.sync_benchmark(BenchmarkDefinition("helix", "absent", "n", EVALUATION, OWNER))


def test_metrics_as_written_are_bundled_references_and_bundles_passed_through() -> None:
    bundle = {"bundle_kind": "metric-bundle", "metric_type": "llm-judge", "outputs": []}
    sent = bundle_metrics([EXACT, "default/stored-metric", bundle])
    assert sent[1:] == ["default/stored-metric", bundle]
    assert sent[0]["outputs"][0]["value_json_schema"]["type"] == "number"
    retrieval = bundle_metrics([{"type": "retrieval-recall", "k": [3, 7]}])[0]
    assert [o["name"] for o in retrieval["outputs"]] == ["recall_3", "recall_7"]
    with pytest.raises(InvalidDefinitionError, match=r"metrics\[1\].*llm-judge"):
        bundle_metrics([EXACT, {"type": "llm-judge", "model": "x"}])


HELIX_TARGET = {"url": "http://m/v1", "name": "x", "format": "openai"}
LLAMA_STACK = {"url": "u", "model_id": "m", "format": "llama_stack"}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (HELIX_TARGET, HELIX_TARGET),
        (V1_TARGET, {"url": "http://m/v1/chat/completions", "name": "good", "format": "nim"}),
        ({"type": "rows", "rows": []}, "no NeMo Helix equivalent"),
        ({"type": "model", "model": {"api_endpoint": LLAMA_STACK}}, "not one NeMo Helix accepts"),
    ],
)
def test_targets_in_either_form(target: dict[str, Any], expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(InvalidDefinitionError, match=expected):
            target_for(target)
    else:
        assert target_for(target) == expected

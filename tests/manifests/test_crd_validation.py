"""The CRDs reject bad input at ``kubectl apply`` with the field named (real kube-apiserver).

Invalid manifests live in ``invalid/*.yaml``; each starts with ``# expect: <text>`` lines that
must all appear in kubectl's error. The EvalJob spec is immutable except ``cancel`` (one-way),
enforced by CEL transition rules whose messages say "is immutable".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from nemo_evaluator_operator.models import (
    BaselineRecord,
    Benchmark,
    BenchmarkStatus,
    Condition,
    CriterionResult,
    EvalJob,
    EvalJobPhase,
    EvalJobStatus,
    LeaderboardEntry,
    ResultsRef,
)
from tests.support.controlplane import Kubectl

from .helpers import SAMPLES_DIR, InvalidCase, invalid_cases, load_samples

pytestmark = pytest.mark.controlplane

SAMPLES = load_samples()
NOW = "2025-09-08T19:20:32Z"


def apply(kubectl: Kubectl, namespace: str, obj: dict[str, Any], *, check: bool = True) -> str:
    """``kubectl apply`` one object from stdin; returns stderr (empty on success)."""
    result = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj), check=check)
    return result.stderr


def get(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(
        kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout
    )
    return out


def patch_status(
    kubectl: Kubectl, namespace: str, kind: str, name: str, status: dict[str, Any]
) -> None:
    body = json.dumps({"status": status})
    kubectl(
        "patch", kind, name, "-n", namespace, "--subresource=status", "--type=merge", "-p", body
    )


def test_at_least_15_invalid_manifests_of_both_kinds() -> None:
    cases = invalid_cases()
    assert len(cases) >= 15
    assert {c.id.split("-")[0] for c in cases} == {"bm", "ej"}
    assert all(c.expect for c in cases), "every invalid manifest needs an '# expect:' header"


@pytest.mark.parametrize("case", invalid_cases(), ids=lambda c: c.id)
def test_invalid_manifest_is_rejected_naming_the_field(
    case: InvalidCase, crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    result = kubectl("apply", "-n", namespace, "-f", str(case.path), check=False)
    assert result.returncode != 0, f"{case.id} was accepted:\n{result.stdout}"
    for expected in case.expect:
        assert expected in result.stderr


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_applies_with_server_dry_run(
    name: str, crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    result = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(SAMPLES_DIR / name))
    assert "(server dry run)" in result.stdout


def _benchmark(config: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(SAMPLES["benchmark-custom.yaml"])
    obj["spec"] = {"config": config, **spec}
    return obj


def _evaljob(**spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(SAMPLES["evaljob.yaml"])
    obj["spec"].update(spec)
    return obj


VALID_EDGES = {
    "stop-string": _benchmark({"type": "gsm8k", "params": {"stop": "<|eot|>"}}),
    "stop-list-of-4": _benchmark({"type": "gsm8k", "params": {"stop": ["a", "b", "c", "d"]}}),
    "temperature-0-and-bounds": _benchmark(
        {"type": "gsm8k", "params": {"temperature": 0, "top_p": 1, "max_retries": 0}}
    ),
    "nemo-namespace-underscore": _benchmark({"type": "mmlu"}, evaluatorNamespace="team_a.v2"),
    "groups-nested": _benchmark(
        {"type": "custom", "groups": {"all": {"tasks": ["qa"], "metrics": {"m": {"type": "f1"}}}}}
    ),
    "target-model-urn-string": _evaljob(target={"type": "model", "model": "meta/llama-3.1-8b"}),
    "target-rows": _evaljob(target={"type": "rows", "rows": [{"prompt": "p", "ideal": "i"}]}),
    "gate-only-max-and-equal-bounds": _evaljob(
        passCriteria=[{"metric": "qa.f1.f1", "max": 0.5}, {"metric": "a.b.c", "min": 1, "max": 1}]
    ),
    "deadline-30-days": _evaljob(activeDeadlineSeconds=2592000),
}


@pytest.mark.parametrize("name", sorted(VALID_EDGES))
def test_valid_edge_cases_are_accepted(
    name: str, crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    obj = VALID_EDGES[name]
    apply(kubectl, namespace, obj)
    stored = get(kubectl, namespace, obj["kind"], obj["metadata"]["name"])
    assert stored["spec"] | obj["spec"] == stored["spec"], "the API server pruned or changed fields"


def test_defaults_are_applied(crds: list[str], kubectl: Kubectl, namespace: str) -> None:
    obj = copy.deepcopy(SAMPLES["evaljob.yaml"])
    del obj["spec"]["cancel"], obj["spec"]["deletionPolicy"]
    apply(kubectl, namespace, obj)
    spec = get(kubectl, namespace, "evaljob", "llama-8b-qa")["spec"]
    assert (spec["cancel"], spec["deletionPolicy"]) == (False, "Delete")


def _gated() -> dict[str, Any]:
    return copy.deepcopy(SAMPLES["evaljob-gated.yaml"])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = obj["spec"]
        for key in parents:
            node = node[key]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value

    return mutate


IMMUTABLE_CHANGES = {
    "benchmarkRef": _set("benchmarkRef.name", "mmlu"),
    "target-model-id": _set("target.model.api_endpoint.model_id", "meta/llama-3.1-70b-instruct"),
    "target-new-nested-key": _set("target.model.prompt", {"system_prompt": "be brief"}),
    "target-type": _set("target.type", "cached_outputs"),
    "apiKeySecretRef-key": _set("apiKeySecretRef.key", "token"),
    "apiKeySecretRef-removed": _set("apiKeySecretRef", None),
    "activeDeadlineSeconds": _set("activeDeadlineSeconds", 7200),
    "activeDeadlineSeconds-removed": _set("activeDeadlineSeconds", None),
    "deletionPolicy": _set("deletionPolicy", "Orphan"),
    "passCriteria-bound": _set("passCriteria", [{"metric": "qa.bleu.sentence", "min": 10}]),
    "passCriteria-removed": _set("passCriteria", None),
}


@pytest.mark.parametrize("change", sorted(IMMUTABLE_CHANGES))
def test_spec_is_immutable(change: str, crds: list[str], kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, _gated())
    before = get(kubectl, namespace, "evaljob", "llama-8b-qa-gate")
    changed = _gated()
    IMMUTABLE_CHANGES[change](changed)
    field = change.split("-")[0]
    stderr = apply(kubectl, namespace, changed, check=False)
    assert f"spec.{field}" in stderr
    assert f"spec.{field} is immutable" in stderr
    after = get(kubectl, namespace, "evaljob", "llama-8b-qa-gate")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_optional_field_cannot_be_added_later(
    crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    """A transition rule on the field itself would not run when the field is new."""
    plain = copy.deepcopy(SAMPLES["evaljob-mmlu.yaml"])
    apply(kubectl, namespace, plain)
    plain["spec"]["passCriteria"] = [{"metric": "mmlu.acc.acc", "min": 0.5}]
    assert "spec.passCriteria is immutable" in apply(kubectl, namespace, plain, check=False)
    plain["spec"].pop("passCriteria")
    plain["spec"]["activeDeadlineSeconds"] = 60
    assert "spec.activeDeadlineSeconds is immutable" in apply(
        kubectl, namespace, plain, check=False
    )


def test_cancel_is_one_way(crds: list[str], kubectl: Kubectl, namespace: str) -> None:
    job = _gated()
    job["spec"]["cancel"] = False
    apply(kubectl, namespace, job)

    job["spec"]["cancel"] = True
    apply(kubectl, namespace, job)  # false -> true is allowed
    assert get(kubectl, namespace, "evaljob", "llama-8b-qa-gate")["spec"]["cancel"] is True

    job["metadata"]["labels"] = {"team": "a"}
    apply(kubectl, namespace, job)  # metadata stays editable on a cancelled job
    patch_status(kubectl, namespace, "evaljob", "llama-8b-qa-gate", {"phase": "Cancelled"})

    job["spec"]["cancel"] = False
    assert "spec.cancel cannot be unset once true" in apply(kubectl, namespace, job, check=False)
    del job["spec"]["cancel"]  # removing it defaults it back to false: also refused
    assert "spec.cancel cannot be unset once true" in apply(kubectl, namespace, job, check=False)
    assert get(kubectl, namespace, "evaljob", "llama-8b-qa-gate")["spec"]["cancel"] is True


def _full_evaljob_status() -> EvalJobStatus:
    cond = Condition(
        type="Succeeded",
        status="True",
        reason="Completed",
        message="Job completed successfully",
        last_transition_time=NOW,
        observed_generation=1,
    )
    return EvalJobStatus(
        observed_generation=1,
        phase=EvalJobPhase.SUCCEEDED,
        job_id="eval-9ZqK1234ABCD5678",
        config_name="team-a/qa-bleu",
        submission_started_at=NOW,
        submitted_at=NOW,
        started_at=NOW,
        completed_at=NOW,
        progress=100.0,
        samples_processed=50,
        message="Job completed successfully",
        task_status={"qa": "completed"},
        scores={"qa.bleu.sentence": 31.2, "qa.bleu.corpus": 28.7},
        headline_score="qa.bleu.sentence=31.2",
        results_ref=ResultsRef(
            config_map="llama-8b-qa-results",
            parts=["llama-8b-qa-results-0", "llama-8b-qa-results-1"],
            size_bytes=1_500_000,
            sha256="0" * 64,
        ),
        gate=[
            CriterionResult(
                metric="qa.bleu.sentence", value=31.2, min=30, passed=True, message="ok"
            ),
            CriterionResult(metric="qa.x", min=1, max=2, passed=False, message="not in results"),
            CriterionResult(
                metric="qa.bleu.sentence",
                value=31.2,
                baseline=BaselineRecord(
                    eval_job="llama-8b-qa-old", uid="u-1", value=33.0, std_err=0.4,
                    config_hash="0123456789abcdef",
                ),
                margin=-0.8,
                passed=False,
                message="31.2 vs baseline 33 (llama-8b-qa-old): drop 1.8 exceeds 1; margin -0.8",
            ),
            CriterionResult(
                metric="qa.bleu.sentence",
                value=31.2,
                reason="BaselineNotComparable",
                passed=False,
                message="refused: different config",
            ),
        ],
        score_errors={"qa.bleu.sentence": 0.4},
        conditions=[cond],
    )  # fmt: skip


def test_full_status_round_trips_through_the_api_server(
    crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    """Every model status field is declared in the CRD: nothing is pruned or rejected."""
    apply(kubectl, namespace, SAMPLES["evaljob.yaml"])
    status = _full_evaljob_status()
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    patch_status(kubectl, namespace, "evaljob", "llama-8b-qa", {**dumped, "kopf": {"x": 1}})
    stored = get(kubectl, namespace, "evaljob", "llama-8b-qa")
    assert stored["status"] == dumped, "fields were pruned (undeclared) or changed"
    assert EvalJob.model_validate(stored).status == status

    apply(kubectl, namespace, SAMPLES["benchmark-custom.yaml"])
    bm_status = BenchmarkStatus(
        observed_generation=1,
        config_name="team-a/qa-bleu",
        eval_jobs=2,
        leaderboard=[
            LeaderboardEntry(model="good", eval_job="ej-good", score=0.9, completed_at=NOW),
            LeaderboardEntry(model="fair", eval_job="ej-fair", score=0.6),
        ],
        leaderboard_metric="qa.bleu.sentence",
        leaderboard_top="good=0.9",
        conditions=[
            Condition(type="Ready", status="True", reason="Synced", last_transition_time=NOW)
        ],
    )
    bm_dumped = bm_status.model_dump(mode="json", by_alias=True, exclude_none=True)
    patch_status(kubectl, namespace, "benchmark", "qa-bleu", bm_dumped)
    stored_bm = get(kubectl, namespace, "benchmark", "qa-bleu")
    assert stored_bm["status"] == bm_dumped
    assert Benchmark.model_validate(stored_bm).status == bm_status


@pytest.mark.parametrize(
    ("field", "value", "expect"),
    [
        ("submittedAt", "2025-03-19T22:53:43.619932", "status.submittedAt"),  # NeMo's naive form
        ("phase", "Completed", "status.phase: Unsupported value"),
        ("message", "m" * 32769, "status.message: Too long"),
        ("scores", {f"m{i}": 1.0 for i in range(65)}, "status.scores: Too many"),
    ],
)
def test_status_is_validated(
    field: str, value: Any, expect: str, crds: list[str], kubectl: Kubectl, namespace: str
) -> None:
    """Status writes are checked too: the operator must write RFC 3339 times with a zone."""
    apply(kubectl, namespace, SAMPLES["evaljob.yaml"])
    body = json.dumps({"status": {field: value}})
    result = kubectl(
        "patch", "evaljob", "llama-8b-qa", "-n", namespace,
        "--subresource=status", "--type=merge", "-p", body, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert expect in result.stderr


def test_printer_columns(crds: list[str], kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, SAMPLES["benchmark-custom.yaml"])
    apply(kubectl, namespace, SAMPLES["evaljob.yaml"])
    status = _full_evaljob_status().model_copy(
        update={
            "progress": 42.5,
            "phase": EvalJobPhase.RUNNING,
            "model": "meta/llama-3.1-8b-instruct",
        }
    )
    patch_status(
        kubectl, namespace, "evaljob", "llama-8b-qa",
        status.model_dump(mode="json", by_alias=True, exclude_none=True),
    )  # fmt: skip
    ready = Condition(type="Ready", status="True", reason="Synced", last_transition_time=NOW)
    patch_status(
        kubectl, namespace, "benchmark", "qa-bleu",
        {
            "evaluatorAPI": "v1",
            "configName": "team-a/qa-bleu",
            "conditions": [ready.model_dump(by_alias=True)],
            "leaderboardTop": "meta/llama-3.1-8b-instruct=31.2",
        },
    )  # fmt: skip

    header, row = kubectl("get", "ej", "-n", namespace).stdout.splitlines()
    assert header.split() == ["NAME", "BENCHMARK", "MODEL", "PHASE", "PROGRESS", "SCORE", "AGE"]
    assert row.split()[:6] == [
        "llama-8b-qa", "qa-bleu", "meta/llama-3.1-8b-instruct", "Running", "42.5",
        "qa.bleu.sentence=31.2",
    ]  # fmt: skip

    wide_header, wide_row = kubectl("get", "ej", "-o", "wide", "-n", namespace).stdout.splitlines()
    assert wide_header.split()[-2:] == ["JOB-ID", "MESSAGE"]
    assert "eval-9ZqK1234ABCD5678" in wide_row.split()
    assert wide_row.endswith("Job completed successfully")

    bm_header, bm_row = kubectl("get", "bm", "-o", "wide", "-n", namespace).stdout.splitlines()
    assert bm_header.split() == ["NAME", "API", "TYPE", "READY", "CONFIG", "BEST", "AGE"]
    assert bm_row.split()[:6] == [
        "qa-bleu", "v1", "custom", "True", "team-a/qa-bleu", "meta/llama-3.1-8b-instruct=31.2"
    ]  # fmt: skip

    names = kubectl("get", "nemo", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(names) == [
        "benchmark.evaluator.nemo.dev/qa-bleu",
        "evaljob.evaluator.nemo.dev/llama-8b-qa",
    ]

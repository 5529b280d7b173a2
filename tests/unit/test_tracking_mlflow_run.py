"""The MLflow run an EvalJob maps to: deterministic, found by UID, free of secrets."""

from nemo_evaluator_operator.tracking.mlflow_run import (
    UID_TAG,
    RunRecord,
    build_record,
    metric_key,
    redact,
    run_name,
    uid_filter,
)

UID = "0f3c2a9e-1111-2222-3333-444455556666"


def _record() -> RunRecord:
    return build_record(
        namespace="team-a",
        name="llama-mmlu",
        uid=UID,
        benchmark="mmlu",
        generation=3,
        config_hash="abc123",
        model="meta/llama-3.1-8b",
        job_id="eval-42",
        backend="v1",
        scores={"mmlu/accuracy": 0.71, "ok": True, "note": "x", "f1@k": 2},
    )


def test_the_same_evaljob_always_yields_the_same_run() -> None:
    assert _record() == _record()
    assert run_name("team-a", "llama-mmlu", UID) == "team-a.llama-mmlu-0f3c2a9e"


def test_record_carries_identity_tags_params_and_numeric_scores_only() -> None:
    record = _record()
    assert record.tags[UID_TAG] == UID
    assert record.tags["nemo.job_id"] == "eval-42"
    assert record.params["benchmark_generation"] == "3"
    assert record.metrics == {"mmlu/accuracy": 0.71, "f1_k": 2.0}


def test_uid_filter_names_the_tag_and_cannot_be_broken_by_quotes() -> None:
    assert uid_filter(UID) == f"tags.`{UID_TAG}` = '{UID}'"
    assert "'" not in uid_filter("a'b").split("= ")[1].strip("'")


def test_metric_key_keeps_allowed_characters() -> None:
    assert metric_key("a b/c.d-e_f") == "a b/c.d-e_f"
    assert metric_key("") == "_"


def test_redact_removes_secrets_at_any_depth() -> None:
    doc = {"target": {"api_key": "sk-1", "url": "http://m"}, "runs": [{"Token": "t"}]}
    out = redact(doc)
    assert "sk-1" not in str(out)
    assert "'t'" not in str(out)
    assert out["target"]["url"] == "http://m"  # type: ignore[index]

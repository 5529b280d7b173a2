"""The CRDs, the pydantic models and the samples describe the same objects (no cluster needed).

The walk compares every object schema in each CRD with the model that parses it: property names
against field aliases, JSON types against annotations, ``required`` against fields without a
default, enums against StrEnums/Literals, and schema defaults against model defaults. Places
where NeMo owns the shape (config params/tasks/groups, target) are opaque to the models and are
checked against NVIDIA's own SDK types instead.
"""

from __future__ import annotations

import copy
import types
import typing
from enum import Enum
from typing import Any, get_args, get_origin

import pytest
from nemo_microservices.types.evaluation_params import EvaluationParams
from nemo_microservices.types.target_type import TargetType
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from nemo_evaluator_operator.constants import ALLOWED_EVALJOBS_ANNOTATION
from nemo_evaluator_operator.models import (
    Benchmark,
    BenchmarkConfig,
    Condition,
    CriterionResult,
    DeletionPolicy,
    EvalJob,
    EvalJobPhase,
    EvalJobStatus,
    ResultsRef,
)
from nemo_evaluator_operator.reconcile.secret_access import allows

from .helpers import crd_schema, load_crd, load_samples, with_namespace

# Paths whose contents the models deliberately keep as plain dicts.
OPAQUE = {
    "metadata",
    "spec.config.params",
    "spec.config.tasks",
    "spec.config.groups",
    "spec.target",
    "spec.evaluation",
}
MODELS: dict[str, type[BaseModel]] = {"benchmarks": Benchmark, "evaljobs": EvalJob}
SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _strip_none(tp: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        assert len(args) == 1, f"unexpected union {tp}"
        return args[0]
    return tp


def _alias(name: str, model: type[BaseModel]) -> str:
    return model.model_fields[name].alias or name


def compare(schema: dict[str, Any], tp: Any, path: str) -> list[str]:
    """Differences between a CRD schema node and a Python annotation, as readable strings."""
    tp = _strip_none(tp)
    where = path or "<root>"
    if path in OPAQUE:
        return [] if schema.get("type") == "object" else [f"{where}: opaque field is not an object"]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _compare_model(schema, tp, path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        values = [m.value for m in tp]
        return (
            []
            if schema.get("enum") == values
            else [f"{where}: enum {schema.get('enum')} != {values}"]
        )
    origin = get_origin(tp)
    if origin is typing.Literal:
        args = list(get_args(tp))
        return (
            [] if schema.get("enum") == args else [f"{where}: enum {schema.get('enum')} != {args}"]
        )
    if origin is list:
        if schema.get("type") != "array":
            return [f"{where}: model has a list, CRD has {schema.get('type')}"]
        return compare(schema["items"], get_args(tp)[0], f"{path}[]")
    if origin is dict:
        extra = schema.get("additionalProperties")
        if schema.get("type") != "object" or not isinstance(extra, dict):
            return [f"{where}: model has a dict, CRD has no additionalProperties schema"]
        return compare(extra, get_args(tp)[1], f"{path}{{}}")
    expected = SCALARS.get(tp)
    if expected is None:
        return [f"{where}: unsupported annotation {tp!r}"]
    return (
        [] if schema.get("type") == expected else [f"{where}: {schema.get('type')} != {expected}"]
    )


def _compare_model(schema: dict[str, Any], model: type[BaseModel], path: str) -> list[str]:
    where = path or "<root>"
    if schema.get("type") != "object":
        return [f"{where}: model {model.__name__} but CRD type {schema.get('type')}"]
    props: dict[str, Any] = schema.get("properties", {})
    fields = {_alias(name, model): (name, info) for name, info in model.model_fields.items()}
    errors = [f"{where}: CRD property {p!r} has no model field" for p in props.keys() - fields]
    errors += [f"{where}: model field {f!r} is not in the CRD" for f in fields.keys() - props]
    required = {alias for alias, (_, info) in fields.items() if info.is_required()}
    if not path:  # the API server always fills these; a CRD cannot require them
        required -= {"apiVersion", "kind", "metadata"}
    if required != set(schema.get("required", [])):
        errors.append(
            f"{where}: required {sorted(schema.get('required', []))} != {sorted(required)}"
        )
    for alias in sorted(props.keys() & fields.keys()):
        _, info = fields[alias]
        sub = f"{path}.{alias}" if path else alias
        errors += _compare_default(props[alias], info.default, sub)
        errors += compare(props[alias], info.annotation, sub)
    return errors


def _compare_default(schema: dict[str, Any], default: Any, path: str) -> list[str]:
    if "default" not in schema:
        return []
    if default is PydanticUndefined or default != schema["default"]:
        return [f"{path}: CRD default {schema['default']!r} != model default {default!r}"]
    return []


@pytest.mark.parametrize("plural", sorted(MODELS))
def test_crd_schema_matches_model(plural: str) -> None:
    assert compare(crd_schema(plural), MODELS[plural], "") == []


def test_walk_detects_drift() -> None:
    """The comparison is not vacuous: each kind of drift is reported."""
    schema = copy.deepcopy(crd_schema("evaljobs"))
    status = schema["properties"]["status"]["properties"]
    status["extraField"] = {"type": "string"}
    del status["jobId"]
    status["phase"]["enum"].append("Paused")
    status["progress"]["type"] = "string"
    schema["properties"]["spec"]["properties"]["deletionPolicy"]["default"] = "Orphan"
    schema["properties"]["spec"]["required"].append("cancel")
    errors = "\n".join(compare(schema, EvalJob, ""))
    for needle in (
        "status: CRD property 'extraField'",
        "status: model field 'jobId'",
        "status.phase: enum",
        "status.progress: string != number",
        "spec.deletionPolicy: CRD default",
        "spec: required",
    ):
        assert needle in errors


def test_enums_match_crd() -> None:
    spec = crd_schema("evaljobs")["properties"]["spec"]["properties"]
    status = crd_schema("evaljobs")["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == [p.value for p in EvalJobPhase]
    assert spec["deletionPolicy"]["enum"] == [p.value for p in DeletionPolicy]
    assert spec["deletionPolicy"]["default"] == DeletionPolicy.DELETE.value


def test_terminal_phases() -> None:
    terminal = {p for p in EvalJobPhase if p.is_terminal}
    assert terminal == {EvalJobPhase.SUCCEEDED, EvalJobPhase.FAILED, EvalJobPhase.CANCELLED}


def test_params_match_nemo_sdk() -> None:
    """spec.config.params types exactly NeMo's EvaluationParams (nemo-microservices SDK)."""
    config = crd_schema("benchmarks")["properties"]["spec"]["properties"]["config"]
    assert set(config["properties"]["params"]["properties"]) == set(EvaluationParams.model_fields)
    assert set(config["properties"]) == {"type", "params", "tasks", "groups"}
    assert set(config["properties"]) <= set(BenchmarkConfig.model_fields)


def test_target_types_match_nemo_sdk() -> None:
    target = crd_schema("evaljobs")["properties"]["spec"]["properties"]["target"]
    assert target["properties"]["type"]["enum"] == list(get_args(TargetType))
    assert target["x-kubernetes-preserve-unknown-fields"] is True


def _walk(schema: dict[str, Any], path: str = "") -> typing.Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("plural", sorted(MODELS))
def test_every_collection_and_string_is_bounded(plural: str) -> None:
    """Bounds keep CEL cost estimates in budget and status writes small."""
    unbounded = []
    for path, node in _walk(crd_schema(plural)):
        if path in (".apiVersion", ".kind"):
            continue
        kind = node.get("type")
        if kind == "string" and not ({"maxLength", "enum"} & node.keys() or "format" in node):
            unbounded.append(path)
        if kind == "array" and "maxItems" not in node:
            unbounded.append(path)
        is_map = "additionalProperties" in node or node.get("x-kubernetes-preserve-unknown-fields")
        if (
            kind == "object"
            and is_map
            and "maxProperties" not in node
            and path != ".spec.config.params.stop"
        ):
            unbounded.append(path)
    assert unbounded == []


@pytest.mark.parametrize("plural", sorted(MODELS))
def test_conditions_are_metav1_conditions(plural: str) -> None:
    conditions = crd_schema(plural)["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert item["required"] == ["type", "status", "reason", "lastTransitionTime"]
    assert item["properties"]["reason"]["pattern"] == "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    assert item["properties"]["message"]["maxLength"] == 32768
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"
    assert compare(item, Condition, "condition") == []


def test_names_and_printer_columns() -> None:
    bm, ej = load_crd("benchmarks"), load_crd("evaljobs")
    assert (bm["spec"]["names"]["shortNames"], ej["spec"]["names"]["shortNames"]) == (
        ["bm"],
        ["ej"],
    )
    assert bm["spec"]["names"]["categories"] == ej["spec"]["names"]["categories"] == ["nemo"]
    for crd in (bm, ej):
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        assert version["subresources"] == {"status": {}}
    bm_cols = [c["name"] for c in bm["spec"]["versions"][0]["additionalPrinterColumns"]]
    ej_cols = {
        c["name"]: c.get("priority", 0)
        for c in ej["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert bm_cols == ["API", "Type", "Ready", "Config", "Best", "Age"]
    assert ej_cols == {
        "Benchmark": 0,
        "Model": 0,
        "Phase": 0,
        "Progress": 0,
        "Score": 0,
        "Age": 0,
        "Job-ID": 1,
        "Message": 1,
    }


def test_immutability_messages_say_is_immutable() -> None:
    """Flux's IsImmutableError and Argo CD key on the phrase "is immutable"."""
    spec = crd_schema("evaljobs")["properties"]["spec"]
    rules = {r["fieldPath"]: r for r in spec["x-kubernetes-validations"]}
    frozen = set(spec["properties"]) - {"cancel"}
    assert {p.removeprefix(".") for p in rules} == set(spec["properties"])
    for field in frozen:
        assert rules[f".{field}"]["message"].startswith(f"spec.{field} is immutable")
        assert "oldSelf" in rules[f".{field}"]["rule"]


SAMPLES = load_samples()
CR_SAMPLES = {k: v for k, v in SAMPLES.items() if v["apiVersion"].startswith("evaluator.nemo.dev/")}


def test_samples_cover_both_kinds_and_a_secret() -> None:
    kinds = sorted(s["kind"] for s in SAMPLES.values())
    assert kinds.count("Benchmark") >= 2
    assert kinds.count("EvalJob") >= 2
    assert "Secret" in kinds
    assert any(s["spec"].get("passCriteria") for s in CR_SAMPLES.values() if s["kind"] == "EvalJob")


@pytest.mark.parametrize("name", sorted(CR_SAMPLES))
def test_sample_round_trips_through_model(name: str) -> None:
    sample = with_namespace(CR_SAMPLES[name], "team-a")
    model = MODELS[sample["kind"].lower() + "s"]
    parsed = model.model_validate(sample)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == sample
    canonical = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert canonical["spec"] | sample["spec"] == canonical["spec"]


@pytest.mark.parametrize("name", sorted(CR_SAMPLES))
def test_sample_has_no_namespace(name: str) -> None:
    """Samples apply into whatever namespace ``kubectl -n`` names."""
    assert "namespace" not in CR_SAMPLES[name]["metadata"]


def test_evaljob_sample_references_a_sample_benchmark_and_secret() -> None:
    benchmarks = {s["metadata"]["name"] for s in CR_SAMPLES.values() if s["kind"] == "Benchmark"}
    secrets = {s["metadata"]["name"]: s for s in SAMPLES.values() if s["kind"] == "Secret"}
    for sample in CR_SAMPLES.values():
        if sample["kind"] != "EvalJob":
            continue
        assert sample["spec"]["benchmarkRef"]["name"] in benchmarks
        ref = sample["spec"].get("apiKeySecretRef")
        if ref:
            secret = secrets[ref["name"]]
            assert ref["key"] in secret["stringData"]
            opt_in = (secret["metadata"].get("annotations") or {}).get(ALLOWED_EVALJOBS_ANNOTATION)
            assert allows(opt_in, sample["metadata"]["name"]), "the sample Secret must opt in"


def test_benchmark_config_to_nemo_is_snake_case_and_keeps_extras() -> None:
    sample = with_namespace(CR_SAMPLES["benchmark-custom.yaml"], "team-a")
    bm = Benchmark.model_validate(sample)
    assert bm.spec.config.to_nemo() == sample["spec"]["config"]
    config = BenchmarkConfig.model_validate({"type": "custom", "future_field": {"a": 1}})
    assert config.to_nemo() == {"type": "custom", "future_field": {"a": 1}}


def test_evaljob_defaults_and_status_parsing() -> None:
    raw = with_namespace(CR_SAMPLES["evaljob-mmlu.yaml"], "team-a")
    raw["spec"].pop("deletionPolicy")
    raw["status"] = {
        "phase": "Running",
        "jobId": "eval-1",
        "progress": 42.5,
        "kopf": {"progress": {}},  # kopf's own status is ignored, not an error
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "Running", "lastTransitionTime": "t"}
        ],
    }
    ej = EvalJob.model_validate(raw)
    assert ej.spec.deletion_policy is DeletionPolicy.DELETE
    assert ej.spec.cancel is False
    assert ej.spec.pass_criteria == []
    assert ej.status.phase is EvalJobPhase.RUNNING
    assert ej.status.conditions[0].message == ""
    assert ej.status.model_dump(by_alias=True, exclude_none=True)["jobId"] == "eval-1"


def test_status_dump_is_camel_case_and_complete() -> None:
    status = EvalJobStatus(
        phase=EvalJobPhase.SUCCEEDED,
        headline_score="qa.bleu.sentence=31.2",
        results_ref=ResultsRef(
            config_map="x-results", parts=["x-results-0"], size_bytes=3, sha256="a" * 64
        ),
        gate=[
            CriterionResult(
                metric="qa.bleu.sentence", value=31.2, min=30, passed=True, message="ok"
            )
        ],
    )
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped == {
        "phase": "Succeeded",
        "headlineScore": "qa.bleu.sentence=31.2",
        "resultsRef": {
            "configMap": "x-results",
            "parts": ["x-results-0"],
            "sizeBytes": 3,
            "sha256": "a" * 64,
        },
        "gate": [
            {
                "metric": "qa.bleu.sentence",
                "value": 31.2,
                "min": 30.0,
                "passed": True,
                "message": "ok",
            }
        ],
        "conditions": [],
    }

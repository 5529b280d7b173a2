# ruff: noqa: E501  (the table reads best one answer per line)
"""A table of hostile evaluator answers: every status the reconcilers produce from them, and
every results ConfigMap, is accepted by the real API server (server-side dry run), so no
answer can leave an EvalJob without a status the CRD takes.

The statuses go through the same bounds the status writer applies before every write
(`reconcile.bounds`); the check is the API server's own validation, not a copy of the rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_evaluator_operator.engine.cluster import status_dict
from nemo_evaluator_operator.evaluator.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    EvaluatorAPIError,
    EvaluatorTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from nemo_evaluator_operator.evaluator.port import JobResults
from nemo_evaluator_operator.models import EvalJob
from nemo_evaluator_operator.reconcile.bounds import bound_evaljob_status
from nemo_evaluator_operator.reconcile.evaljob import EvalJobContext, reconcile_evaljob
from nemo_evaluator_operator.reconcile.finishing import build_config_maps
from nemo_evaluator_operator.reconcile.results import render_results
from tests.support.controlplane import Kubectl
from tests.unit.reconcile.fakes import FakeEvaluator, FakeKube, v1_port

pytestmark = pytest.mark.controlplane

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
CREATED = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
UID = "hostile-uid"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
BENCHMARK = {
    "apiVersion": "evaluator.nemo.dev/v1alpha1",
    "kind": "Benchmark",
    "metadata": {"name": "qa", "namespace": "ns", "uid": "bm", "generation": 1},
    "spec": {"config": {"type": "custom"}},
    "status": {
        "observedGeneration": 1,
        "configName": "default/ns-qa-1",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ConfigSynced",
                "lastTransitionTime": CREATED,
            }
        ],
    },
}


def err(cls: type[EvaluatorAPIError], status: int, detail: str, **extra: Any) -> EvaluatorAPIError:
    return cls(
        status_code=status,
        detail=detail,
        body=detail,
        method="POST",
        path="/v1/evaluation/jobs",
        **extra,
    )


@dataclass
class Case:
    """One hostile answer: how the fake evaluator answers, and the EvalJob it meets."""

    setup: Callable[[FakeEvaluator], None]
    status: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    missing_polls: int = 0


def running(fake: FakeEvaluator, **job: Any) -> None:
    fake.jobs["eval-1"] = {
        "id": "eval-1",
        "status": "running",
        "status_details": {},
        "custom_fields": {"evaljob_uid": UID},
        **job,
    }


def completed(document: dict[str, Any]) -> Callable[[FakeEvaluator], None]:
    def setup(fake: FakeEvaluator) -> None:
        running(fake, status="completed")
        fake.results["eval-1"] = document

    return setup


def failing(method: str, error: Exception, **job: Any) -> Callable[[FakeEvaluator], None]:
    def setup(fake: FakeEvaluator) -> None:
        if job or method != "create_job":
            running(fake, **job)
        fake.fail[method] = error  # type: ignore[assignment]

    return setup


def many_scores(count: int, value: Callable[[int], float] = float) -> dict[str, Any]:
    metrics = {f"m{n}": {"scores": {"s": {"value": value(n)}}} for n in range(count)}
    return {"tasks": {"qa": {"metrics": metrics}}}


ON_JOB = {"jobId": "eval-1", "phase": "Running"}
LONG = "t" * 10_000
CASES: dict[str, Case] = {
    "cancel-400": Case(failing("cancel_job", err(BadRequestError, 400, "cannot cancel now")), ON_JOB, {"cancel": True}),
    "cancel-409": Case(failing("cancel_job", err(ConflictError, 409, "already done")), ON_JOB, {"cancel": True}),
    "submit-401": Case(failing("create_job", err(AuthenticationError, 401, "Unauthorized"))),
    "submit-403": Case(failing("create_job", err(AuthenticationError, 403, "Forbidden: " + "x" * 600))),
    "submit-413": Case(failing("create_job", err(EvaluatorAPIError, 413, "Request Entity Too Large"))),
    "submit-429-retry-after": Case(failing("create_job", err(RateLimitedError, 429, "slow down", retry_after=120.0))),
    "submit-502-html": Case(failing("create_job", err(ServerError, 502, HTML_502))),
    "submit-non-json": Case(failing("create_job", err(ServerError, 500, "\x00\x01 not json \xff" * 50))),
    "read-404-once": Case(lambda fake: None, ON_JOB),
    "read-404-confirmed": Case(lambda fake: None, ON_JOB, missing_polls=2),
    "failure-message-40kb": Case(lambda f: running(f, status="failed", status_details={"message": "E" * 40_000}), ON_JOB),
    "unknown-state": Case(lambda f: running(f, status="exploding-" + "z" * 5000), ON_JOB),
    "task-names-10k": Case(lambda f: running(f, status_details={"task_status": {LONG + str(n): "running" * 20 for n in range(100)}}), ON_JOB),
    "metric-names-10k": Case(completed({"tasks": {LONG: {"metrics": {"m" * 10_000: {"scores": {"s" * 10_000: {"value": 1.0}}}}}}}), ON_JOB),
    "scores-100k": Case(completed(many_scores(100_000)), ON_JOB),
    "scores-nan-inf": Case(completed(many_scores(6, lambda n: [math.nan, math.inf, -math.inf, 1.0, 2.0, 3.0][n])), ON_JOB),
    "results-4mib": Case(completed({"tasks": {"qa": {"metrics": {}, "blob": "b" * (4 * 1024 * 1024)}}}), ON_JOB),
    "stalled-body": Case(failing("get_job", EvaluatorTimeoutError("GET timed out: ReadTimeout", method="GET", path="/v1/evaluation/jobs/{job_id}")), ON_JOB),
    "gone-during-cancel": Case(failing("cancel_job", err(NotFoundError, 404, "no such job")), ON_JOB, {"cancel": True}),
}  # fmt: skip


def evaljob(case: Case) -> EvalJob:
    return EvalJob.model_validate(
        {
            "apiVersion": "evaluator.nemo.dev/v1alpha1",
            "kind": "EvalJob",
            "metadata": {
                "name": "hostile",
                "namespace": "ns",
                "uid": UID,
                "generation": 1,
                "creationTimestamp": CREATED,
            },
            "spec": {
                "benchmarkRef": {"name": "qa"},
                "target": {
                    "type": "model",
                    "model": {"api_endpoint": {"url": "http://m/v1", "model_id": "m"}},
                },
                **case.spec,
            },
            "status": case.status,
        }
    )


@pytest.fixture(scope="module")
def live(crds: list[str], kubectl: Kubectl, kube_api: Any) -> Iterator[tuple[Kubectl, str]]:
    """One EvalJob to patch with --dry-run=server (a namespace of its own)."""
    from kubernetes import client as k8s

    namespace = "hostile-answers"
    k8s.CoreV1Api(kube_api).create_namespace(
        k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace))
    )
    manifest = evaljob(Case(lambda f: None)).model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )
    manifest["metadata"] = {"name": "hostile"}
    manifest.pop("status", None)
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))
    yield kubectl, namespace
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def dry_run_status(kubectl: Kubectl, namespace: str, status: dict[str, Any], tmp: Path) -> str:
    patch = tmp / "status-patch.json"  # a file: the patch can be larger than one argument
    patch.write_text(json.dumps({"status": status}))
    result = kubectl(
        "patch", "evaljob", "hostile", "-n", namespace, "--subresource=status", "--type=merge",
        "--dry-run=server", "--patch-file", str(patch), check=False,
    )  # fmt: skip
    return result.stderr if result.returncode else ""


@pytest.mark.parametrize("name", sorted(CASES))
async def test_every_status_from_a_hostile_answer_fits_the_crd(
    name: str, live: tuple[Kubectl, str], tmp_path: Path
) -> None:
    kubectl, namespace = live
    case = CASES[name]
    fake, kube = FakeEvaluator(), FakeKube()
    kube.benchmarks[("ns", "qa")] = BENCHMARK
    case.setup(fake)
    ej = evaljob(case)
    ctx = EvalJobContext(
        evaluator=v1_port(fake), kube=kube, grace_seconds=60, now=NOW,
        batched=case.missing_polls > 0, missing_polls=case.missing_polls,
    )  # fmt: skip
    transition = await reconcile_evaljob(ej, ctx)
    status = bound_evaljob_status(status_dict(transition.status))
    reasons = [c["reason"] for c in status["conditions"]]
    assert all(reasons), status["conditions"]
    assert (problem := dry_run_status(kubectl, namespace, status, tmp_path)) == "", problem
    for spec in kube.config_maps.values():
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": spec.name, "labels": dict(spec.labels)},
            "data": dict(spec.data),
        }
        size = sum(
            len(k) + len(v.encode()) for k, v in spec.data.items()
        )  # what the API server counts
        assert size < 1000 * 1024, f"{spec.name}: {size} bytes"
        created = kubectl(
            "create",
            "-n",
            namespace,
            "--dry-run=server",
            "-f",
            "-",
            input=json.dumps(manifest),
            check=False,
        )
        assert created.returncode == 0, created.stderr
    for event in transition.events:
        assert event.reason


def test_config_maps_of_a_huge_result_stay_under_the_limit() -> None:
    document = many_scores(100_000)
    rendered = render_results(
        JobResults(scores={f"qa.m{n}.s": float(n) for n in range(100_000)}, document=document)
    )
    maps = build_config_maps(evaljob(Case(lambda f: None)), "default/eval-1", rendered, [])
    assert len(maps) > 2
    for spec in maps:
        assert sum(len(k) + len(v.encode()) for k, v in spec.data.items()) < 1000 * 1024
    assert "more scores in results.json" in maps[0].data["summary.txt"]

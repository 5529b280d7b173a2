"""The score gauges as Prometheus scrapes them from the running operator's /metrics."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.queries import dashboard_exprs, metric_names, rule_groups, scraped_names
from tests.support.operator_process import OperatorProcess

from .helpers import Cluster, evaljob_manifest, wait_for
from .test_evaljob import ready_benchmark

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(operator: OperatorProcess, namespace: str) -> Samples:
    """Every sample of this namespace, keyed by (name, sorted labels without namespace)."""
    text = httpx.get(operator.metrics_url, timeout=10).text
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("namespace") == namespace:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "namespace"))
                found[(s.name, labels)] = s.value
    return found


def model_labels(model: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"benchmark": "qa", "model": model, **more}.items()))


def with_model(name: str, model_id: str, **spec: object) -> dict[str, object]:
    manifest = evaljob_manifest(name, "qa", **spec)
    manifest["spec"]["target"]["model"]["api_endpoint"]["model_id"] = model_id  # type: ignore[index]
    return manifest


def unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_scores_gates_and_last_success_follow_the_evaljobs(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    ready_benchmark(cluster)
    cluster.apply(with_model("old", "m1", passCriteria=[{"metric": "qa.bleu.sentence", "min": 0}]))
    old = cluster.wait_phase("old", "Succeeded")
    cluster.apply(with_model("new", "m1", passCriteria=[{"metric": "qa.bleu.sentence", "min": 99}]))
    cluster.apply(with_model("other", "m2"))
    new = cluster.wait_phase("new", "Failed")  # its gate failed; its scores are in status
    other = cluster.wait_phase("other", "Succeeded")
    m1, m2 = old["status"]["model"], other["status"]["model"]
    assert m1 != m2
    assert new["status"]["completedAt"] >= old["status"]["completedAt"]

    def settled(check: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> Samples | None:
        got = scrape(operator, cluster.namespace)
        return got if all(got.get(k) == v for k, v in check.items()) else None

    gate, stamp = (
        "nemo_evaluator_operator_gate_passed",
        ("nemo_evaluator_operator_last_success_timestamp_seconds"),
    )
    expected = {
        (stamp, model_labels(m1)): unix(old["status"]["completedAt"]),
        (gate, model_labels(m1)): 0.0,  # the newest gated run of m1 failed
        ("nemo_evaluator_operator_evaljobs", (("phase", "Failed"),)): 1.0,
        ("nemo_evaluator_operator_evaljobs", (("phase", "Succeeded"),)): 2.0,
        ("nemo_evaluator_operator_evaljobs_finished_total", (("phase", "Failed"),)): 1.0,
        ("nemo_evaluator_operator_evaljobs_finished_total", (("phase", "Succeeded"),)): 2.0,
    }
    for metric, value in new["status"]["scores"].items():
        expected["nemo_evaluator_operator_score", model_labels(m1, metric=metric)] = value
    for metric, value in other["status"]["scores"].items():
        expected["nemo_evaluator_operator_score", model_labels(m2, metric=metric)] = value
    got = wait_for(lambda: settled(expected), 30, "the scores of all three EvalJobs")
    scores = {k for k in got if k[0] == "nemo_evaluator_operator_score"}
    assert len(scores) == len(new["status"]["scores"]) + len(other["status"]["scores"])

    cluster.delete("EvalJob", "new")  # the older run of m1 backs the series again
    cluster.wait_gone("EvalJob", "new")
    wait_for(lambda: settled({(gate, model_labels(m1)): 1.0}), 30, "m1's gate from old")

    cluster.delete("EvalJob", "old")  # no EvalJob of m1 left: its series go
    cluster.wait_gone("EvalJob", "old")

    def m1_gone() -> Samples | None:
        got = scrape(operator, cluster.namespace)
        return None if any(("model", m1) in labels for _, labels in got) else got

    got = wait_for(m1_gone, 30, "every series of m1 removed")
    assert got[stamp, model_labels(m2)] == unix(other["status"]["completedAt"])
    assert got["nemo_evaluator_operator_evaljobs", (("phase", "Succeeded"),)] == 1.0


def test_dashboard_and_rules_name_metrics_the_running_operator_serves(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    """The same check as tests/monitoring, against a scrape of the operator process itself."""
    exported = scraped_names(httpx.get(operator.metrics_url, timeout=10).text) | {"up"}
    exprs = [r["expr"] for g in rule_groups() for r in g["rules"]] + list(dashboard_exprs())
    used = set().union(*(metric_names(e) for e in exprs))
    assert "nemo_evaluator_operator_score" in used
    assert used <= exported, f"not served: {sorted(used - exported)}"

"""deploy/monitoring checked by Prometheus's own promtool, and its queries by name.

promtool is built from Go modules into .testbin/ by `make testbin` (tools/testenv/
build-promtool.sh); a missing binary fails these tests, it never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_evaluator_operator.metrics import Metrics
from tests.deploy.manifests import find, find_all, render
from tests.support.controlplane import REPO_ROOT

from .queries import (
    DASHBOARD,
    MONITORING_DIR,
    dashboard_exprs,
    exported_names,
    metric_names,
    rule_groups,
)

PROMTOOL = REPO_ROOT / ".testbin" / "promtool"
RULES_TEST = Path(__file__).with_name("rules_test.yaml")


def promtool(*args: str, cwd: Path) -> str:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run `make testbin`"
    result = subprocess.run(
        [str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rules.yaml (the PrometheusRule's groups) next to a copy of the unit tests."""
    where = tmp_path_factory.mktemp("rules")
    (where / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    shutil.copy(RULES_TEST, where / RULES_TEST.name)
    return where


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


def test_promtool_accepts_the_rules(rules_dir: Path) -> None:
    out = promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert f"SUCCESS: {len(alerts())} rules found" in out


def test_promtool_rule_tests_pass(rules_dir: Path) -> None:
    out = promtool("test", "rules", RULES_TEST.name, cwd=rules_dir)
    assert "SUCCESS" in out


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    wanted = {"NemoEvalScoreDropped", "NemoEvalGateFailed", "NemoEvalBenchmarkStale"}
    wanted |= {"NemoEvalJobsFailing", "NemoEvalOperatorDown"}
    assert set(alerts()) == wanted
    for name in wanted:
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == name}
        assert outcomes == {True, False}, f"{name} is not tested both firing and quiet"


def test_rules_and_dashboard_name_only_metrics_the_registry_exports() -> None:
    families = [(f.name, f.type) for f in Metrics().registry.collect()]
    exported = exported_names(families) | {"up"}
    exprs = [r["expr"] for r in alerts().values()] + list(dashboard_exprs())
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        assert names <= exported, f"{expr!r} names {sorted(names - exported)}"
    used = set().union(*(metric_names(e) for e in exprs))
    for name in ("score", "gate_passed", "last_success_timestamp_seconds"):
        assert f"nemo_evaluator_operator_{name}" in used


def test_metric_names_are_parsed_from_promql() -> None:
    expr = (
        'sum by (le, route) (rate(foo_bucket{a="x{y}", b=~"$v"}[5m])) / on (job) bar'
        " > 7 * 86400 and absent(up{job='z'} == 1) offset 1h"
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "up"}


def test_kustomization_ships_rule_monitor_and_dashboard() -> None:
    docs = render(MONITORING_DIR)
    find(docs, "PrometheusRule", "nemo-evaluator-operator")
    monitor = find(docs, "ServiceMonitor", "nemo-evaluator-operator")
    board = find(docs, "ConfigMap", "nemo-evaluator-operator-dashboard")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["data"][DASHBOARD.name] == DASHBOARD.read_text()
    # The ServiceMonitor finds the Service deploy/ installs, on the port the operator serves.
    installed = render()
    (service,) = [
        s
        for s in find_all(installed, "Service")
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert service["metadata"]["namespace"] == monitor["metadata"]["namespace"]
    port = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    (container,) = find(installed, "Deployment", "nemo-evaluator-operator")["spec"]["template"][
        "spec"
    ]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["OPERATOR_METRICS_PORT"]) == ports[port["targetPort"]]
    assert (
        "up{job=" + f'"{service["metadata"]["name"]}"' in alerts()["NemoEvalOperatorDown"]["expr"]
    )

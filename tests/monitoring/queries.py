"""The PromQL that deploy/monitoring ships, and the metric names it reads.

Why: a dashboard panel or an alert on a metric the operator does not export shows nothing and
never fires, silently. The names are taken from the expressions themselves and compared with
what the operator's registry (or a scrape of the running operator) exposes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "DASHBOARD",
    "MONITORING_DIR",
    "RULES",
    "dashboard_exprs",
    "exported_names",
    "metric_names",
    "rule_groups",
    "scraped_names",
]

MONITORING_DIR = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULES = MONITORING_DIR / "prometheusrule.yaml"
DASHBOARD = MONITORING_DIR / "nemo-evaluator-operator.json"

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "inf", "nan",
}  # fmt: skip
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def rule_groups() -> list[dict[str, Any]]:
    """The PrometheusRule's groups: what Prometheus loads as a rules file."""
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    assert isinstance(groups, list)
    return groups


def dashboard_exprs() -> Iterator[str]:
    """Every panel target's expr and every templating variable's query."""
    board = json.loads(DASHBOARD.read_text())
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert match, f"unexpected variable query {query!r}"
            yield match.group(1)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, labels and keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = match.group(0), text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue  # a function call or a keyword
        if re.fullmatch(r"\d+[smhdwy]", word) or text[match.start() - 1 : match.start()].isdigit():
            continue
        names.add(word)
    return names


def exported_names(families: Iterable[tuple[str, str]]) -> set[str]:
    """Series names for (family name, type) pairs, as PromQL sees them."""
    names = set()
    for name, kind in families:
        suffixes = _SUFFIXES.get(kind, ("",))
        names |= {name + suffix for suffix in suffixes}
    return names


def scraped_names(text: str) -> set[str]:
    """Series names in a /metrics page, including families that have no sample yet."""
    return exported_names((f.name, f.type) for f in text_string_to_metric_families(text))

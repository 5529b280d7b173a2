"""Operator settings from the environment, and the metrics registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest

from nemo_evaluator_operator.metrics import Metrics
from nemo_evaluator_operator.settings import OperatorSettings, SettingsError


def test_defaults_match_the_documented_table() -> None:
    settings = OperatorSettings.from_env({"NEMO_EVALUATOR_URL": "http://nemo:7331/"})
    assert settings.evaluator_url == "http://nemo:7331"
    assert settings.evaluator_namespace == "default"
    assert settings.watch_namespaces == []
    assert settings.poll_interval == 10.0
    assert settings.token_file is None
    assert settings.evaluator_connections == 16


def test_every_variable_is_read(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    settings = OperatorSettings.from_env(
        {
            "NEMO_EVALUATOR_URL": "https://nemo",
            "NEMO_EVALUATOR_TOKEN_FILE": str(token),
            "NEMO_EVALUATOR_CA_FILE": "/ca.pem",
            "NEMO_EVALUATOR_NAMESPACE": "team",
            "OPERATOR_WATCH_NAMESPACES": "a, b,,c",
            "OPERATOR_POLL_INTERVAL": "2.5",
            "OPERATOR_METRICS_PORT": "9100",
            "OPERATOR_EVALUATOR_CONNECTIONS": "4",
        }
    )
    assert settings.read_token() == "s3cret"
    assert settings.watch_namespaces == ["a", "b", "c"]
    assert settings.poll_interval == 2.5
    assert settings.metrics_port == 9100
    assert settings.evaluator_connections == 4
    assert str(settings.ca_file) == "/ca.pem"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "NEMO_EVALUATOR_URL is required"),
        ({"NEMO_EVALUATOR_URL": "nemo:7331"}, "evaluator_url"),
        ({"NEMO_EVALUATOR_URL": "http://x", "OPERATOR_POLL_INTERVAL": "-1"}, "poll_interval"),
        ({"NEMO_EVALUATOR_URL": "http://x", "OPERATOR_POLL_INTERVAL": "soon"}, "poll_interval"),
        (
            {"NEMO_EVALUATOR_URL": "http://x", "OPERATOR_EVALUATOR_CONNECTIONS": "0"},
            "evaluator_connections",
        ),
    ],
)
def test_bad_settings_give_a_one_line_cause(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        OperatorSettings.from_env(env)
    assert "\n" not in str(info.value)


def test_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = OperatorSettings.from_env(
        {"NEMO_EVALUATOR_URL": "http://x", "NEMO_EVALUATOR_TOKEN_FILE": str(tmp_path / "nope")}
    )
    with pytest.raises(SettingsError, match="NEMO_EVALUATOR_TOKEN_FILE"):
        settings.read_token()


def test_metrics_count_requests_and_phases() -> None:
    metrics = Metrics()
    metrics.observe_response("GET", "/v1/evaluation/jobs", 200, 0.01)
    metrics.observe_response("GET", "/v1/evaluation/jobs", None, 0.5)
    metrics.set_phase("a", "Pending", "team")
    metrics.set_phase("a", "Running", "team")
    metrics.set_phase("b", "Succeeded", "team")
    metrics.set_phase("b", "Succeeded", "team")  # the same phase again counts once
    metrics.set_phase("a", None)
    text = generate_latest(metrics.registry).decode()
    assert (
        'nemo_evaluator_operator_nemo_requests_total{method="GET",'
        'route="/v1/evaluation/jobs",status="200"} 1.0' in text
    )
    assert 'status="error"' in text
    assert 'nemo_evaluator_operator_evaljobs{namespace="team",phase="Succeeded"} 1.0' in text
    assert 'nemo_evaluator_operator_evaljobs{namespace="team",phase="Running"} 0.0' in text

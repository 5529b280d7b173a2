"""An operator pointed at a URL that serves neither evaluator API says so once, at start, and
every object gets a reasoned condition instead of a silent loop of 404s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openai_table_server.testing import RunningModelServer
from tests.e2e import shared
from tests.e2e.backends import HelixBackend
from tests.e2e.helpers import Cluster
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.controlplane, pytest.mark.helix, pytest.mark.e2e]


@pytest.fixture
def confused(
    hx: Cluster,
    helix_operator: OperatorProcess,
    operator_kubeconfig: Path,
    model_server: RunningModelServer,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    """The only operator watching this namespace, given the model server as its NeMo URL."""
    helix_operator.stop()
    process = OperatorProcess(
        operator_kubeconfig,
        model_server.base_url,
        tmp_path,
        env={"OPERATOR_WATCH_NAMESPACES": hx.namespace},
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()
        helix_operator.start()


def test_neither_api_gives_one_line_and_reasoned_conditions(
    hx: Cluster, backend: HelixBackend, confused: OperatorProcess
) -> None:
    lines = [line for line in confused.output().splitlines() if "serves neither" in line]
    assert len(lines) == 1, confused.tail()
    assert "/apis/evals" in lines[0]
    assert "/v1/evaluation" in lines[0]
    hx.apply(shared._manifest("Benchmark", "bm", backend.benchmark_spec(hx.namespace)))
    condition = hx.wait_condition("Benchmark", "bm", "Stalled", timeout=60)
    assert condition["reason"] == "UnsupportedEvaluatorAPI"
    assert "serves neither" in condition["message"]
    shared.evaljob(hx, backend, "ej")
    waiting = hx.wait_condition("EvalJob", "ej", "Stalled", timeout=60)
    assert waiting["reason"] == "UnsupportedEvaluatorAPI"
    assert hx.must_get("EvalJob", "ej")["status"]["phase"] == "Pending"
    assert confused.running
    assert confused.starts == 1  # never crashed or restarted

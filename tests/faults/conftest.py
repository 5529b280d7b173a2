"""Fixtures for the fault suite: a fresh emulator and operator per scenario, and the ledger.

Each scenario gets its own namespace, emulator (with --state-dir, so it can be SIGKILLed and
restarted) and operator (2 s NeMo request timeout, 1 s polling), so killing or flooding them
never disturbs tests/e2e's shared operator. The per-scenario counts of lost and duplicated
jobs are printed at the end of the run and written to tests/faults/.last-run.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.support.controlplane import Kubectl

from .batch import OPERATOR_ENV, PHASES, Ledger
from .stack import Stack, run_stack

__all__ = [
    "ledger",
    "operator_env",
    "pytest_terminal_summary",
    "stack",
]

HERE = Path(__file__).resolve().parent
_LEDGER = Ledger(HERE / ".last-run.json")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per scenario: jobs lost and duplicated, and how long it took."""
    for line in _LEDGER.lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return _LEDGER


@pytest.fixture
def operator_env() -> dict[str, str]:
    """Extra operator environment; a test module may override this fixture."""
    return dict(OPERATOR_ENV)


@pytest.fixture
def stack(
    kube_api: k8s.ApiClient,
    kubectl: Kubectl,
    kubeconfig: Path,
    crds: list[str],
    namespace: str,
    tmp_path: Path,
    operator_env: dict[str, str],
) -> Iterator[Stack]:
    """This scenario's namespace, emulator and operator."""
    assert crds, "the CRDs must be installed before the operator starts"
    with run_stack(
        kube_api, kubectl, kubeconfig, namespace, tmp_path, phases=PHASES, operator_env=operator_env
    ) as running:
        yield running

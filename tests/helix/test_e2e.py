"""The operator end to end against the real NeMo Helix, with the same test bodies as v1
(tests/e2e/shared.py) plus what only Helix has."""

from __future__ import annotations

import pytest

from tests.e2e import shared, shared_continuous
from tests.e2e.backends import HelixBackend
from tests.e2e.helpers import Cluster
from tests.support.operator_process import OperatorProcess

pytestmark = [pytest.mark.controlplane, pytest.mark.helix, pytest.mark.e2e]


def test_scores_and_exactly_one_job(hx: Cluster, backend: HelixBackend) -> None:
    shared.check_scores_and_exactly_one_job(hx, backend)


def test_cancel_mid_run(hx: Cluster, backend: HelixBackend) -> None:
    shared.check_cancel_mid_run(hx, backend)


@pytest.mark.parametrize("policy", ["Delete", "Orphan"])
def test_delete_while_active(hx: Cluster, backend: HelixBackend, policy: str) -> None:
    shared.check_delete_while_active(hx, backend, policy)


def test_missing_secret_then_key_reaches_the_model(
    hx: Cluster, backend: HelixBackend, helix_operator: OperatorProcess
) -> None:
    shared.check_missing_secret_then_key_reaches_the_model(hx, backend, helix_operator)


def test_lost_post_answer(hx: Cluster, backend: HelixBackend) -> None:
    shared.check_lost_post_answer(hx, backend)


def test_killed_right_after_post(
    hx: Cluster, backend: HelixBackend, helix_operator: OperatorProcess
) -> None:
    shared.check_killed_right_after_post(hx, backend, helix_operator)


def test_baseline_gates_and_leaderboard(hx: Cluster, backend: HelixBackend) -> None:
    shared_continuous.check_baseline_gates_and_leaderboard(hx, backend)

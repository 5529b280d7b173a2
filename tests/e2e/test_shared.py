"""The test bodies shared with the NeMo Helix suite (tests/helix/test_e2e.py), on the v1
emulator: same promises, other API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from . import shared, shared_continuous
from .backends import V1Backend
from .helpers import Cluster

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]


@pytest.fixture
def backend(emulator: RunningEmulator) -> Iterator[V1Backend]:
    backend = V1Backend(emulator)
    backend.reset()
    yield backend
    backend.reset()


def test_scores_and_exactly_one_job(cluster: Cluster, backend: V1Backend) -> None:
    shared.check_scores_and_exactly_one_job(cluster, backend)


def test_cancel_mid_run(cluster: Cluster, backend: V1Backend) -> None:
    shared.check_cancel_mid_run(cluster, backend)


@pytest.mark.parametrize("policy", ["Delete", "Orphan"])
def test_delete_while_active(cluster: Cluster, backend: V1Backend, policy: str) -> None:
    shared.check_delete_while_active(cluster, backend, policy)


def test_missing_secret_then_key_reaches_the_model(
    cluster: Cluster, backend: V1Backend, operator: OperatorProcess
) -> None:
    shared.check_missing_secret_then_key_reaches_the_model(cluster, backend, operator)


def test_lost_post_answer(cluster: Cluster, backend: V1Backend) -> None:
    shared.check_lost_post_answer(cluster, backend)


def test_killed_right_after_post(
    cluster: Cluster, backend: V1Backend, operator: OperatorProcess
) -> None:
    shared.check_killed_right_after_post(cluster, backend, operator)


def test_baseline_gates_and_leaderboard(cluster: Cluster, backend: V1Backend) -> None:
    shared_continuous.check_baseline_gates_and_leaderboard(cluster, backend)

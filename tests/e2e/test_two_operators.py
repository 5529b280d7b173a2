"""Two operator processes on the same EvalJobs: every EvalJob's job is posted exactly once.

Each process marks an EvalJob before it posts, with the EvalJob's resourceVersion as a
precondition; the API server lets only one of two such writes through, and the process that
lost does not post. (Running two replicas is not a supported install: this is the safety net
under a failover where both believe they are active.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_evaluator_emulator.testing import RunningEmulator
from tests.support.operator_process import OperatorProcess

from . import shared
from .backends import V1Backend
from .helpers import Cluster

pytestmark = [pytest.mark.controlplane, pytest.mark.emulator, pytest.mark.e2e]

EVALJOBS = 12


def test_two_processes_post_each_job_once(
    cluster: Cluster,
    emulator: RunningEmulator,
    operator: OperatorProcess,
    operator_kubeconfig: Path,
    tmp_path: Path,
) -> None:
    backend = V1Backend(emulator)
    backend.reset()
    second = OperatorProcess(operator_kubeconfig, emulator.base_url, tmp_path)
    second.start()
    try:
        shared.benchmark(cluster, backend)
        for n in range(EVALJOBS):
            shared.evaljob(cluster, backend, f"ej-{n}")
        finished = [shared.finished(cluster, f"ej-{n}") for n in range(EVALJOBS)]
    finally:
        second.stop()
    assert [obj["status"]["phase"] for obj in finished] == ["Succeeded"] * EVALJOBS
    assert [backend.creations(obj) for obj in finished] == [1] * EVALJOBS
    markers = [obj["metadata"]["annotations"]["evaluator.nemo.dev/submission"] for obj in finished]
    assert all('"attempt": 1' in marker for marker in markers), markers

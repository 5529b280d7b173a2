"""NeMo Helix restarted under the operator: queued work is submitted once Helix is back, and a
job Helix lost (0.8.1 keeps running jobs' processes only in memory: they stay `active`) is
ended by the EvalJob's deadline, which cancels it."""

from __future__ import annotations

import pytest

from tests.e2e import shared
from tests.e2e.backends import HelixBackend
from tests.e2e.helpers import Cluster
from tests.support.helix import HelixServer

pytestmark = [pytest.mark.controlplane, pytest.mark.helix, pytest.mark.e2e]


def test_evaljobs_finish_across_a_helix_restart(
    hx: Cluster, backend: HelixBackend, helix: HelixServer
) -> None:
    shared.benchmark(hx, backend)
    shared.running(hx, backend, "stuck", activeDeadlineSeconds=75)
    helix.stop()
    shared.evaljob(hx, backend, "queued", model="fair")
    waiting = hx.wait_condition("EvalJob", "queued", "Reconciling", timeout=60)
    assert waiting["reason"] in ("EvaluatorUnavailable", "Submitting"), waiting
    helix.restart(keep_data=True)

    queued = shared.finished(hx, "queued")
    assert queued["status"]["phase"] == "Succeeded", queued["status"]
    assert queued["status"]["scores"]["exact-match.exact-match"] == pytest.approx(0.6)
    assert backend.creations(queued) == 1

    stuck = shared.finished(hx, "stuck", timeout=240)
    conds = {c["type"]: c for c in stuck["status"]["conditions"]}
    assert stuck["status"]["phase"] == "Failed"
    assert conds["Succeeded"]["reason"] == "DeadlineExceeded"
    assert backend.job_state(stuck) == "cancelled"
    assert backend.creations(stuck) == 1

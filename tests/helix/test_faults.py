"""A batch of EvalJobs on the real NeMo Helix while our fault proxy answers 5xx, holds
requests past the operator's timeout, loses a POST answer and cuts Helix off for a while:
every EvalJob ends with its results and exactly one Helix job created for it."""

from __future__ import annotations

import time

import pytest

from tests.e2e import shared
from tests.e2e.backends import SCORES, HelixBackend
from tests.e2e.helpers import Cluster, wait_for

pytestmark = [pytest.mark.controlplane, pytest.mark.helix, pytest.mark.e2e]

EVALS = "/apis/evals/v2/"
MODELS = ("good", "fair", "poor", "good", "fair", "poor")


def test_batch_survives_errors_timeouts_a_lost_answer_and_an_outage(
    hx: Cluster, backend: HelixBackend, record_property: pytest.RecordProperty
) -> None:
    shared.benchmark(hx, backend)
    control = backend.proxy.control
    control.add_fault("drop_after", r"/evaluate/jobs$", method="POST", path_regex=True, count=1)
    control.add_fault("status", EVALS, method="GET", status=503, probability=0.3)
    control.add_fault("status", EVALS, method="GET", preset="gateway_html", probability=0.1)
    control.add_fault("timeout", EVALS, method="GET", seconds=15, probability=0.05)
    started = time.monotonic()
    for n, model in enumerate(MODELS):
        shared.evaljob(hx, backend, f"ej-{n}", model=model)
    wait_for(
        lambda: sum(bool((hx.get("EvalJob", f"ej-{n}") or {}).get("status", {}).get("jobId"))
                    for n in range(len(MODELS))) >= 2,
        120,
        "the first submissions",
    )  # fmt: skip
    control.outage(20)
    results = [shared.finished(hx, f"ej-{n}", timeout=420) for n in range(len(MODELS))]
    fired = {
        rule["action"] + ":" + str(rule.get("status") or ""): rule["fired"]
        for rule in control.faults()
    }
    record_property("seconds", round(time.monotonic() - started, 1))
    record_property("faults_fired", fired)
    for obj, model in zip(results, MODELS, strict=True):
        status = obj["status"]
        assert status["phase"] == "Succeeded", status
        assert status["scores"]["exact-match.exact-match"] == pytest.approx(SCORES[model])
        assert backend.creations(obj) == 1, obj["metadata"]["name"]
        assert hx.config_map(f"{obj['metadata']['name']}-results") is not None
    assert sum(fired.values()) > 0

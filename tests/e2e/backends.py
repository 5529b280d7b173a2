"""The two evaluators the end-to-end tests run against, behind one small interface.

`V1Backend` is our emulator of NeMo Microservices v1; `HelixBackend` is NVIDIA's real NeMo
Helix behind our fault proxy (whose request log is how POSTs are counted) with the table model
server as the model. Test bodies in `shared.py` take a `Backend`, so the same behaviour is
proven on both APIs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, Protocol

import httpx

from fault_proxy.testing import RunningFaultProxy
from nemo_evaluator_emulator.testing import RunningEmulator
from nemo_evaluator_operator.evaluator.helix.naming import job_name_for
from nemo_evaluator_operator.evaluator.port import Owner
from openai_table_server.testing import RunningModelServer
from tests.support.helix import HelixServer, demo_dataset

from .helpers import CUSTOM_CONFIG

__all__ = ["SLOW_PROMPT", "Backend", "HelixBackend", "V1Backend"]

SLOW_PROMPT = "Please think very slowly about this one."
"""A prompt the model server holds for minutes: jobs asking it stay running until cancelled."""

EXACT_MATCH = {
    "type": "exact-match",
    "reference": "{{item.expected | trim}}",
    "candidate": "{{sample.output_text | trim}}",
}
SCORES = {"good": 1.0, "fair": 0.6, "poor": 0.2}  # exact-match means on the demo dataset


class Backend(Protocol):
    """What a shared test needs from an evaluator besides the operator itself."""

    name: str

    def benchmark_spec(self, workspace: str) -> dict[str, Any]: ...
    def slow_benchmark_spec(self, workspace: str) -> dict[str, Any]: ...
    def target(self, model: str = "good") -> dict[str, Any]: ...
    def expected_scores(self, ej: dict[str, Any]) -> dict[str, float]: ...
    def creations(self, ej: dict[str, Any]) -> int: ...
    def attempts(self, ej: dict[str, Any]) -> int: ...
    def job_state(self, ej: dict[str, Any]) -> str | None: ...
    def cancel_requests(self, ej: dict[str, Any]) -> int: ...
    def lose_job_post_answers(self, count: int = 1) -> contextlib.AbstractContextManager[None]: ...
    def saw_api_key(self, key: str) -> bool: ...
    def cancel_directly(self, ej: dict[str, Any]) -> None: ...
    def reset(self) -> None: ...


def _owner(ej: dict[str, Any]) -> Owner:
    meta = ej["metadata"]
    return Owner(uid=meta["uid"], namespace=meta["namespace"], name=meta["name"])


class V1Backend:
    """The v1 emulator: synthetic scores, slow jobs by phase durations, faults built in."""

    name = "v1"

    def __init__(self, emulator: RunningEmulator) -> None:
        self.emulator = emulator

    def benchmark_spec(self, workspace: str) -> dict[str, Any]:
        return {"config": CUSTOM_CONFIG}

    def slow_benchmark_spec(self, workspace: str) -> dict[str, Any]:
        self.emulator.control.set_phase_seconds(running=600)
        return {"config": CUSTOM_CONFIG}

    def target(self, model: str = "good") -> dict[str, Any]:
        endpoint = {"url": "http://nim.example:8000/v1/completions", "model_id": model}
        return {"type": "model", "model": {"api_endpoint": {**endpoint, "format": "nim"}}}

    def expected_scores(self, ej: dict[str, Any]) -> dict[str, float]:
        job_id = ej["status"]["jobId"]
        results = httpx.get(f"{self.emulator.base_url}/v1/evaluation/jobs/{job_id}/results").json()
        scores = results["tasks"]["qa"]["metrics"]["bleu"]["scores"]
        return {f"qa.bleu.{name}": score["value"] for name, score in scores.items()}

    def _posts(self, ej: dict[str, Any]) -> list[dict[str, Any]]:
        uid = ej["metadata"]["uid"]
        posts = self.emulator.control.requests(method="POST", path_prefix="/v1/evaluation/jobs")
        return [
            p
            for p in posts
            if p["path"] == "/v1/evaluation/jobs"
            and ((p.get("body") or {}).get("custom_fields") or {}).get("evaljob_uid") == uid
        ]

    def creations(self, ej: dict[str, Any]) -> int:
        return sum(1 for p in self._posts(ej) if p.get("status") == 200)

    def attempts(self, ej: dict[str, Any]) -> int:
        """Every job POST for this EvalJob, whatever NeMo answered."""
        return len(self._posts(ej))

    def job_state(self, ej: dict[str, Any]) -> str | None:
        job_id = ej["status"]["jobId"]
        answer = httpx.get(f"{self.emulator.base_url}/v1/evaluation/jobs/{job_id}")
        return None if answer.status_code == 404 else str(answer.json()["status"])

    def cancel_requests(self, ej: dict[str, Any]) -> int:
        path = f"/v1/evaluation/jobs/{ej['status']['jobId']}/cancel"
        return len(self.emulator.control.requests(method="POST", path_prefix=path))

    @contextlib.contextmanager
    def lose_job_post_answers(self, count: int = 1) -> Iterator[None]:
        fault = self.emulator.control.add_fault(
            "POST", "/v1/evaluation/jobs", drop_after=True, count=count
        )
        try:
            yield
        finally:
            self.emulator.control.remove_fault(fault)

    def saw_api_key(self, key: str) -> bool:
        posts = self.emulator.control.requests(method="POST", path_prefix="/v1/evaluation/jobs")
        return any(key in json.dumps(p.get("body")) for p in posts)

    def cancel_directly(self, ej: dict[str, Any]) -> None:
        job_id = ej["status"]["jobId"]
        httpx.post(f"{self.emulator.base_url}/v1/evaluation/jobs/{job_id}/cancel", json={})

    def reset(self) -> None:
        self.emulator.control.set_phase_seconds(running=3)
        self.emulator.control.clear_faults()


class HelixBackend:
    """NeMo Helix through the fault proxy, the table model server answering for the models."""

    name = "helix"

    def __init__(
        self, helix: HelixServer, proxy: RunningFaultProxy, model: RunningModelServer
    ) -> None:
        self.helix = helix
        self.proxy = proxy
        self.model = model

    def _spec(self, rows: list[dict[str, str]], timeout: int) -> dict[str, Any]:
        return {
            "evaluation": {
                "metrics": [EXACT_MATCH],
                "dataset": rows,
                "prompt_template": {"messages": [{"role": "user", "content": "{{item.question}}"}]},
                "params": {
                    "parallelism": 2,
                    "max_retries": 0,
                    "request_timeout": timeout,
                    "inference": {"temperature": 0, "max_tokens": 16},
                },
            }
        }

    def benchmark_spec(self, workspace: str) -> dict[str, Any]:
        return {"evaluatorNamespace": workspace, **self._spec(demo_dataset(), 30)}

    def slow_benchmark_spec(self, workspace: str) -> dict[str, Any]:
        self.model.add_rule(contains=SLOW_PROMPT, delay=600)
        rows = [{"question": SLOW_PROMPT, "expected": "slowly"}]
        return {"evaluatorNamespace": workspace, **self._spec(rows, 900)}

    def target(self, model: str = "good") -> dict[str, Any]:
        return {"url": self.model.chat_url, "name": model, "format": "openai"}

    def expected_scores(self, ej: dict[str, Any]) -> dict[str, float]:
        model = ej["spec"]["target"].get("name") or "good"
        return {"exact-match.exact-match": SCORES[model]}

    def _job(self, ej: dict[str, Any]) -> tuple[str, str]:
        # The shared tests put each namespace's Benchmarks in a workspace of the same name.
        workspace = ej.get("status", {}).get("evaluatorNamespace") or ej["metadata"]["namespace"]
        return workspace, job_name_for(_owner(ej))

    def creations(self, ej: dict[str, Any]) -> int:
        workspace, name = self._job(ej)
        jobs = f"/apis/evals/v2/workspaces/{workspace}/evaluate/jobs"
        posts = self.proxy.control.requests(method="POST", path_prefix=jobs)
        return sum(
            1
            for p in posts
            if p["path"] == jobs
            and (p.get("body") or {}).get("name") == name
            and p.get("upstream_status") == 201
        )

    def attempts(self, ej: dict[str, Any]) -> int:
        """Every job POST for this EvalJob and every workspace-secret POST in its workspace,
        whatever Helix answered."""
        workspace, name = self._job(ej)
        jobs = f"/apis/evals/v2/workspaces/{workspace}/evaluate/jobs"
        posts = self.proxy.control.requests(method="POST", path_prefix=jobs)
        secrets = self.proxy.control.requests(
            method="POST", path_prefix=f"/apis/secrets/v2/workspaces/{workspace}/"
        )
        named = [
            p for p in posts if p["path"] == jobs and (p.get("body") or {}).get("name") == name
        ]
        return len(named) + len(secrets)

    def job_state(self, ej: dict[str, Any]) -> str | None:
        workspace, name = self._job(ej)
        url = f"{self.helix.base_url}/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}"
        answer = httpx.get(url, timeout=10)
        return None if answer.status_code == 404 else str(answer.json()["status"])

    def cancel_requests(self, ej: dict[str, Any]) -> int:
        workspace, name = self._job(ej)
        path = f"/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}/cancel"
        return len(self.proxy.control.requests(method="POST", path_prefix=path))

    @contextlib.contextmanager
    def lose_job_post_answers(self, count: int = 1) -> Iterator[None]:
        rule = self.proxy.control.add_fault(
            "drop_after",
            r"^/apis/evals/v2/workspaces/[^/]+/evaluate/jobs$",
            method="POST",
            path_regex=True,
            count=count,
        )
        try:
            yield
        finally:
            self.proxy.control.remove_fault(rule)

    def saw_api_key(self, key: str) -> bool:
        return any(r.get("authorization") == f"Bearer {key}" for r in self.model.requests())

    def cancel_directly(self, ej: dict[str, Any]) -> None:
        """Behind the operator's back, straight to Helix (so an orphan does not linger)."""
        workspace, name = self._job(ej)
        url = f"{self.helix.base_url}/apis/evals/v2/workspaces/{workspace}/evaluate/jobs/{name}"
        httpx.post(f"{url}/cancel", timeout=10)

    def reset(self) -> None:
        self.model.clear_rules()
        self.proxy.control.clear_faults()
        self.proxy.control.end_outage()

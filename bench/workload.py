"""The workload: one Benchmark, N EvalJobs created fast, and a watch that times their progress.

The watch (not a list every 0.5 s) keeps the bench's own load on kube-apiserver small, so the
2 cores go to the operator and the API server rather than to the measurement.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

__all__ = [
    "CONFIG",
    "GROUP",
    "TARGET",
    "VERSION",
    "EvalJobWatch",
    "benchmark_manifest",
    "create_evaljobs",
    "evaljob_manifest",
    "wait_benchmark_ready",
]

GROUP, VERSION = "evaluator.nemo.dev", "v1alpha1"
BENCHMARK_NAME = "qa-bleu"

# The same NeMo evaluation config and target for the operator (through the CRDs) and the floor.
CONFIG: dict[str, Any] = {
    "type": "custom",
    "params": {"parallelism": 8, "limit_samples": 50},
    "tasks": {
        "qa": {
            "type": "completion",
            "params": {"template": {"prompt": "{{prompt}}", "max_tokens": 200}},
            "dataset": {
                "files_url": "hf://datasets/default/sample-basic-test/testing/testing.jsonl"
            },
            "metrics": {"bleu": {"type": "bleu", "params": {"references": ["{{ideal_response}}"]}}},
        }
    },
}
TARGET: dict[str, Any] = {
    "type": "model",
    "model": {
        "api_endpoint": {
            "url": "http://bench-nim:8000/v1/completions",
            "model_id": "meta/llama-3.1-8b-instruct",
            "format": "nim",
        }
    },
}
_WATCH_SECONDS = 5  # a stop request is noticed within this long


def benchmark_manifest() -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Benchmark",
        "metadata": {"name": BENCHMARK_NAME},
        "spec": {"config": CONFIG},
    }


def evaljob_manifest(index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EvalJob",
        "metadata": {"name": f"ej-{index:05d}"},
        "spec": {"benchmarkRef": {"name": BENCHMARK_NAME}, "target": TARGET},
    }


def wait_benchmark_ready(api: k8s.ApiClient, namespace: str, timeout: float) -> str:
    """The Benchmark's NeMo config name once it is Ready (TimeoutError otherwise)."""
    custom = k8s.CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = cast(
            "dict[str, Any]",
            custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "benchmarks", BENCHMARK_NAME
            ),
        )
        status = body.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        if ready and status.get("configName"):
            return str(status["configName"])
        time.sleep(0.25)
    raise TimeoutError(f"Benchmark {namespace}/{BENCHMARK_NAME} not Ready after {timeout:.0f}s: "
                       f"{status.get('message', 'no status')}")  # fmt: skip


def create_evaljobs(api: k8s.ApiClient, namespace: str, n: int, workers: int) -> None:
    """Create ``n`` EvalJobs with server-side creates from a thread pool (fails on any error)."""
    custom = k8s.CustomObjectsApi(api)

    def create(index: int) -> None:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "evaljobs", evaljob_manifest(index)
        )

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-create") as pool:
        list(pool.map(create, range(n)))


class EvalJobWatch:
    """Times, per EvalJob, when its NeMo job id and its results first appeared in status.

    Runs list-then-watch in a daemon thread; times are ``clock()`` readings.
    """

    def __init__(
        self, api: k8s.ApiClient, namespace: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._custom = k8s.CustomObjectsApi(api)
        self._namespace = namespace
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)
        self.submitted: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self._phases: dict[str, str] = {}
        self.error: BaseException | None = None

    def start(self) -> EvalJobWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_WATCH_SECONDS + 5)

    def phases(self) -> Counter[str]:
        """EvalJobs by phase as last seen (``-`` before the operator wrote one)."""
        with self._lock:
            return Counter(self._phases.values())

    def _see(self, obj: Mapping[str, Any]) -> None:
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        now = self._clock()
        phase = status.get("phase") or "-"
        with self._lock:
            self._phases[name] = phase
            if status.get("jobId"):
                self.submitted.setdefault(name, now)
            if phase == "Succeeded" and status.get("resultsRef"):
                self.finished.setdefault(name, now)
            elif phase in ("Failed", "Cancelled"):
                self.failed.setdefault(name, f"{phase}: {status.get('message', '')}")

    def _run(self) -> None:
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                version = self._watch(version)
            except ApiException as err:
                if err.status != 410:  # 410 Gone: our version is too old; list again
                    self.error = err
                    self._stop.wait(1.0)
                version = None
            except Exception as err:  # a dropped stream: note it, list again
                self.error = err
                version = None
                self._stop.wait(1.0)

    def _list(self) -> str:
        listing = cast(
            "dict[str, Any]",
            self._custom.list_namespaced_custom_object(GROUP, VERSION, self._namespace, "evaljobs"),
        )
        for item in listing["items"]:
            self._see(item)
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str | None:
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        events = stream.stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object, GROUP, VERSION, self._namespace,
            "evaljobs", resource_version=version, timeout_seconds=_WATCH_SECONDS,
        )  # fmt: skip
        for event in events:
            if event["type"] == "ERROR":
                return None
            obj = event["object"]
            version = str(obj["metadata"]["resourceVersion"])
            if event["type"] != "BOOKMARK":
                self._see(obj)
            if self._stop.is_set():
                stream.stop()  # type: ignore[no-untyped-call]
                break
        return version

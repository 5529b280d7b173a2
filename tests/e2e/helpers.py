"""Small helpers for end-to-end tests: apply manifests, read CRs, wait for conditions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.controlplane import Kubectl

__all__ = [
    "Cluster",
    "benchmark_manifest",
    "conditions",
    "evaljob_manifest",
    "request_mark",
    "strip_nulls",
    "wait_for",
]

T = TypeVar("T")
GROUP, VERSION = "evaluator.nemo.dev", "v1alpha1"
PLURALS = {"Benchmark": "benchmarks", "EvalJob": "evaljobs"}


def wait_for(fn: Callable[[], T | None], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll `fn` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def request_mark(emulator: Any) -> int:
    """The sequence number of the emulator's newest recorded request (0 if none)."""
    records = emulator.control.requests()
    return max((int(r["seq"]) for r in records), default=0)


def strip_nulls(value: Any) -> Any:
    """NeMo echoes unset fields as null; compare content without them."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def benchmark_manifest(name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Benchmark",
        "metadata": {"name": name},
        "spec": {"config": config},
    }


CUSTOM_CONFIG: dict[str, Any] = {
    "type": "custom",
    "params": {"parallelism": 4, "limit_samples": 20},
    "tasks": {
        "qa": {
            "type": "completion",
            "params": {"template": {"prompt": "{{prompt}}", "max_tokens": 50}},
            "dataset": {"files_url": "hf://datasets/default/sample/test.jsonl"},
            "metrics": {"bleu": {"type": "bleu", "params": {"references": ["{{ideal}}"]}}},
        }
    },
}


def evaljob_manifest(name: str, benchmark: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EvalJob",
        "metadata": {"name": name},
        "spec": {
            "benchmarkRef": {"name": benchmark},
            "target": {
                "type": "model",
                "model": {
                    "api_endpoint": {
                        "url": "http://nim.example:8000/v1/completions",
                        "model_id": "meta/llama-3.1-8b-instruct",
                        "format": "nim",
                    }
                },
            },
            **spec,
        },
    }


class Cluster:
    """One namespace of the test cluster, with typed-ish accessors for our kinds."""

    def __init__(self, api: k8s.ApiClient, kubectl: Kubectl, namespace: str) -> None:
        self.api = api
        self.kubectl = kubectl
        self.namespace = namespace
        self.custom = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-n", self.namespace, "-f", "-", input=yaml.safe_dump(manifest))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS[kind], name
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return obj

    def must_get(self, kind: str, name: str) -> dict[str, Any]:
        obj = self.get(kind, name)
        assert obj is not None, f"{kind} {name} not found"
        return obj

    def patch_spec(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name, {"spec": spec}
        )

    def delete(self, kind: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name
        )

    def condition(self, kind: str, name: str, ctype: str) -> dict[str, Any] | None:
        obj = self.get(kind, name)
        return conditions(obj).get(ctype) if obj else None

    def wait_condition(
        self, kind: str, name: str, ctype: str, status: str = "True", timeout: float = 60.0
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            found = self.condition(kind, name, ctype)
            return found if found and found["status"] == status else None

        return wait_for(check, timeout, f"{kind} {name} {ctype}={status}")

    def wait_phase(self, name: str, phase: str, timeout: float = 60.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.get("EvalJob", name)
            return obj if obj and obj.get("status", {}).get("phase") == phase else None

        return wait_for(check, timeout, f"EvalJob {name} phase {phase}")

    def wait_gone(self, kind: str, name: str, timeout: float = 60.0) -> None:
        wait_for(lambda: self.get(kind, name) is None, timeout, f"{kind} {name} deleted")

    def config_map(self, name: str) -> k8s.V1ConfigMap | None:
        try:
            return self.core.read_namespaced_config_map(name, self.namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def events(self, name: str) -> list[k8s.CoreV1Event]:
        items = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        ).items
        return list(items)

    def dump(self) -> str:
        """Everything in the namespace, for failure messages."""
        out = {
            kind: self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)[
                "items"
            ]
            for kind, plural in PLURALS.items()
        }
        return json.dumps(out, indent=1, default=str)[:20000]

"""Kubernetes reads and writes the reconcilers need, on the blocking client in worker threads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from ..constants import (
    ALLOWED_EVALJOBS_ANNOTATION,
    BENCHMARK_PLURAL,
    EVALJOB_PLURAL,
    GROUP,
    VERSION,
    Reason,
)
from ..errors import KubernetesError
from ..reconcile.ports import ConfigMapSpec, ConfigMapTakenError, SecretLookup

__all__ = ["FIELD_MANAGER", "KubeResources", "load_api_client"]

FIELD_MANAGER = "nemo-evaluator-operator"
IN_FLIGHT = 32
"""Kubernetes calls at once: the client blocks, so each runs on one of this many threads."""

_POOL = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="kube")


def load_api_client() -> client.ApiClient:
    """In-cluster config when running in a Pod, else KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = IN_FLIGHT
    return client.ApiClient(configuration)


T = TypeVar("T")


async def _call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a thread; turn its failures into KubernetesError."""
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_POOL, lambda: fn(*args, **kwargs))
    except ApiException as err:
        raise KubernetesError(f"{what}: HTTP {err.status} {_reason(err)}", err.status) from None
    except (TransportError, OSError) as err:
        raise KubernetesError(f"{what}: {type(err).__name__}: {err}") from None


def _reason(err: ApiException) -> str:
    """The API server's own message from a Status body, else the HTTP reason."""
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or err.reason or "")[:1000]


class KubeResources:
    """Implements the reconcilers' KubePort on the official client."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)

    async def read_secret_key(self, namespace: str, name: str, key: str) -> SecretLookup:
        """One key of a Secret, or a precise problem; the value is never logged or echoed."""
        try:
            secret = await _call(
                f"read Secret {namespace}/{name}",
                self._core.read_namespaced_secret,
                name,
                namespace,
            )
        except KubernetesError as err:
            if err.status == 404:
                return SecretLookup(
                    problem=f"Secret {namespace}/{name} not found", reason=Reason.SECRET_NOT_FOUND
                )
            if err.status == 403:
                return SecretLookup(
                    problem=f"the operator may not read Secret {namespace}/{name}",
                    reason=Reason.SECRET_NOT_FOUND,
                )
            raise
        annotations = (secret.metadata.annotations if secret.metadata else None) or {}
        opt_in = annotations.get(ALLOWED_EVALJOBS_ANNOTATION)
        encoded = (secret.data or {}).get(key)
        value, problem = _key_value(f"Secret {namespace}/{name}", key, encoded)
        if value is None:
            return SecretLookup(
                problem=problem, reason=Reason.SECRET_KEY_NOT_FOUND, allowed_evaljobs=opt_in
            )
        return SecretLookup(value=value, allowed_evaljobs=opt_in)

    async def patch_evaljob_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None = None
    ) -> str:
        """Merge-patch an EvalJob's status; with `resource_version`, only if it still matches
        (409 otherwise). Returns the new resourceVersion."""
        result = await _call(
            f"patch EvalJob {namespace}/{name} status",
            self._custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, EVALJOB_PLURAL, name,
            _body("status", status, resource_version),
        )  # fmt: skip
        return _version(result)

    async def patch_benchmark_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> str:
        """Merge-patch a Benchmark's status. Returns the new resourceVersion."""
        result = await _call(
            f"patch Benchmark {namespace}/{name} status",
            self._custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, BENCHMARK_PLURAL, name, _body("status", status, None),
        )  # fmt: skip
        return _version(result)

    async def patch_evaljob_metadata(
        self,
        namespace: str,
        name: str,
        metadata: dict[str, Any],
        resource_version: str | None = None,
    ) -> str:
        """Merge-patch an EvalJob's metadata (finalizers, annotations), with a precondition."""
        result = await _call(
            f"patch EvalJob {namespace}/{name}",
            self._custom.patch_namespaced_custom_object,
            GROUP, VERSION, namespace, EVALJOB_PLURAL, name, _meta(metadata, resource_version),
        )  # fmt: skip
        return _version(result)

    async def patch_benchmark_metadata(
        self,
        namespace: str,
        name: str,
        metadata: dict[str, Any],
        resource_version: str | None = None,
    ) -> str:
        """Merge-patch a Benchmark's metadata (finalizers), with a precondition."""
        result = await _call(
            f"patch Benchmark {namespace}/{name}",
            self._custom.patch_namespaced_custom_object,
            GROUP, VERSION, namespace, BENCHMARK_PLURAL, name, _meta(metadata, resource_version),
        )  # fmt: skip
        return _version(result)

    async def post_event(
        self, involved: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event about one of our objects (`involved` is its body)."""
        meta = involved.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta.get('name')}."),
            involved_object=client.V1ObjectReference(
                api_version=involved.get("apiVersion"),
                kind=involved.get("kind"),
                name=meta.get("name"),
                namespace=namespace,
                uid=meta.get("uid"),
            ),
            reason=reason,
            message=message[:1024],
            type=type_,
            source=client.V1EventSource(component=FIELD_MANAGER),
            reporting_component=FIELD_MANAGER,
            reporting_instance=FIELD_MANAGER,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        await _call(
            f"post Event on {namespace}/{meta.get('name')}",
            self._core.create_namespaced_event,
            namespace,
            event,
        )

    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None:
        """Server-side apply each ConfigMap, parts first (so the index implies its parts).

        A ConfigMap of that name that this EvalJob does not own is never touched:
        `ConfigMapTakenError` says whose it is.
        """
        for spec in [*config_maps[1:], config_maps[0]]:
            await self._check_owner(namespace, owner, spec.name)
            await _call(
                f"apply ConfigMap {namespace}/{spec.name}",
                self._core.patch_namespaced_config_map,
                spec.name,
                namespace,
                _config_map(namespace, owner, spec),
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            )

    async def _check_owner(self, namespace: str, owner: Mapping[str, str], name: str) -> None:
        try:
            found = await _call(
                f"read ConfigMap {namespace}/{name}",
                self._core.read_namespaced_config_map,
                name,
                namespace,
            )
        except KubernetesError as err:
            if err.status == 404:
                return
            raise
        refs = (found.metadata.owner_references if found.metadata else None) or []
        if any(ref.uid == owner["uid"] for ref in refs):
            return
        whose = ", ".join(f"{r.kind} {r.name}" for r in refs) or "no owner (made by hand?)"
        raise ConfigMapTakenError(f"ConfigMap {namespace}/{name} exists and belongs to {whose}")


def _body(field: str, value: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {field: value}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return body


def _meta(metadata: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    patch = dict(metadata)
    if resource_version:
        patch["resourceVersion"] = resource_version
    return {"metadata": patch}


def _version(result: Any) -> str:
    meta = result.get("metadata") if isinstance(result, dict) else None
    return str(meta.get("resourceVersion", "")) if isinstance(meta, dict) else ""


def _config_map(namespace: str, owner: Mapping[str, str], spec: ConfigMapSpec) -> dict[str, Any]:
    """The applied configuration: exactly the fields this operator owns."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": spec.name,
            "namespace": namespace,
            "labels": dict(spec.labels),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner["name"],
                    "uid": owner["uid"],
                    "controller": True,
                }
            ],
        },
        "data": dict(spec.data),
    }


def _key_value(secret: str, key: str, encoded: str | bytes | None) -> tuple[str | None, str]:
    """The key's text, or what is wrong with it (missing, not text, empty)."""
    if encoded is None:
        return None, f"{secret} has no key {key!r}"
    try:
        value = base64.b64decode(encoded).decode().strip()
    except (binascii.Error, UnicodeDecodeError):
        return None, f"{secret} key {key!r} is not UTF-8 text"
    return (value, "") if value else (None, f"{secret} key {key!r} is empty")

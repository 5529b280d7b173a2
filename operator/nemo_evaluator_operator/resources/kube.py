"""Kubernetes reads and writes the reconcilers need, on the blocking client in worker threads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from ..constants import BENCHMARK_PLURAL, EVALJOB_PLURAL, GROUP, VERSION, Reason
from ..errors import KubernetesError
from ..reconcile.ports import ConfigMapSpec, SecretLookup

__all__ = ["KubeResources", "load_api_client"]


def load_api_client() -> client.ApiClient:
    """In-cluster config when running in a Pod, else KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


T = TypeVar("T")


async def _call(what: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking client call in a thread; turn its failures into KubernetesError."""
    try:
        return await asyncio.to_thread(fn, *args)
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

    async def get_benchmark(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Benchmark as a dict, or None when it does not exist."""
        try:
            result = await _call(
                f"get Benchmark {namespace}/{name}",
                self._custom.get_namespaced_custom_object,
                GROUP, VERSION, namespace, BENCHMARK_PLURAL, name,
            )  # fmt: skip
        except KubernetesError as err:
            if err.status == 404:
                return None
            raise
        return cast(dict[str, Any], result)

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
        encoded = (secret.data or {}).get(key)
        if encoded is None:
            return SecretLookup(
                problem=f"Secret {namespace}/{name} has no key {key!r}",
                reason=Reason.SECRET_KEY_NOT_FOUND,
            )
        try:
            value = base64.b64decode(encoded).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            return SecretLookup(
                problem=f"Secret {namespace}/{name} key {key!r} is not UTF-8 text",
                reason=Reason.SECRET_KEY_NOT_FOUND,
            )
        if not value:
            return SecretLookup(
                problem=f"Secret {namespace}/{name} key {key!r} is empty",
                reason=Reason.SECRET_KEY_NOT_FOUND,
            )
        return SecretLookup(value=value)

    async def patch_evaljob_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the status subresource right now (used before and after the job POST)."""
        await _call(
            f"patch EvalJob {namespace}/{name} status",
            self._custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, EVALJOB_PLURAL, name, {"status": status},
        )  # fmt: skip

    async def apply_results_configmaps(
        self, namespace: str, owner: Mapping[str, str], config_maps: list[ConfigMapSpec]
    ) -> None:
        """Create or replace each ConfigMap; parts before the index, so the index implies parts."""
        for spec in [*config_maps[1:], config_maps[0]]:
            what = f"write ConfigMap {namespace}/{spec.name}"
            await _call(what, self._apply_config_map, namespace, owner, spec)

    def _apply_config_map(
        self, namespace: str, owner: Mapping[str, str], spec: ConfigMapSpec
    ) -> None:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=spec.name,
                namespace=namespace,
                labels=dict(spec.labels),
                owner_references=[
                    client.V1OwnerReference(
                        api_version=owner["apiVersion"],
                        kind=owner["kind"],
                        name=owner["name"],
                        uid=owner["uid"],
                        controller=True,
                    )
                ],
            ),
            data=dict(spec.data),
        )
        try:
            self._core.create_namespaced_config_map(namespace, body)
        except ApiException as err:
            if err.status != 409:
                raise
            self._core.replace_namespaced_config_map(spec.name, namespace, body)

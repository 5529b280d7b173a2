"""The plugin's only contact with the API server: kubeconfig as kubectl reads it, and reads.

Every Kubernetes error becomes a `PluginError` with kubectl's wording (not found, forbidden,
unreachable), so the command line prints one line and exits non-zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from nemo_evaluator_operator.constants import BENCHMARK_PLURAL, EVALJOB_PLURAL, GROUP, VERSION

from .errors import PluginError

__all__ = ["Kube", "Target", "connect"]

TIMEOUT = (10, 60)  # (connect, read) seconds for each request
_KINDS = {EVALJOB_PLURAL: "EvalJob", BENCHMARK_PLURAL: "Benchmark", "configmaps": "ConfigMap"}


@dataclass(frozen=True)
class Target:
    """Where to connect: the same three choices kubectl offers (None: kubectl's default)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def connect(target: Target) -> Kube:
    """An API client and namespace chosen like kubectl: flags, then KUBECONFIG, then context.

    Without any kubeconfig (inside a Pod) the in-cluster ServiceAccount is used, as kubectl does.
    """
    try:
        api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=target.kubeconfig, context=target.context
        )
        namespace = target.namespace or _context_namespace(target)
    except ConfigException as err:
        if target.kubeconfig or target.context:
            raise PluginError(f"kubeconfig: {err}") from None
        api, namespace = _in_cluster(err, target.namespace)
    except OSError as err:
        raise PluginError(f"kubeconfig: {err}") from None
    api.configuration.retries = 1
    return Kube(api, namespace)


def _context_namespace(target: Target) -> str:
    contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
        config_file=target.kubeconfig
    )
    chosen = next((c for c in contexts if c["name"] == target.context), active)
    namespace = (chosen or {}).get("context", {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _in_cluster(cause: ConfigException, namespace: str | None) -> tuple[k8s.ApiClient, str]:
    try:
        k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
    except ConfigException:
        raise PluginError(f"kubeconfig: {cause}") from None
    own = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    with open(own) as handle:
        return k8s.ApiClient(), namespace or handle.read().strip()


class Kube:
    """Reads and one create, in one namespace, with errors as one-line `PluginError`s."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.server = str(api.configuration.host)
        self._custom = k8s.CustomObjectsApi(api)
        self._core = k8s.CoreV1Api(api)

    def evaljob(self, name: str) -> dict[str, Any]:
        return self._get_custom(EVALJOB_PLURAL, name)

    def benchmark(self, name: str) -> dict[str, Any]:
        return self._get_custom(BENCHMARK_PLURAL, name)

    def evaljobs(self) -> list[dict[str, Any]]:
        found = self._call(
            EVALJOB_PLURAL,
            None,
            lambda: self._custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, EVALJOB_PLURAL, _request_timeout=TIMEOUT
            ),
        )
        return list(found.get("items", []))

    def config_map_data(self, name: str) -> dict[str, str] | None:
        """The ConfigMap's data, or None when it does not exist."""
        try:
            found = self._call(
                "configmaps",
                name,
                lambda: self._core.read_namespaced_config_map(
                    name, self.namespace, _request_timeout=TIMEOUT
                ),
            )
        except _NotFoundError:
            return None
        return dict(found.data or {})

    def events(self, kind: str, name: str) -> list[dict[str, Any]]:
        """core/v1 Events about one object, as plain dicts with API field names."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        found = self._call(
            "events",
            None,
            lambda: self._core.list_namespaced_event(
                self.namespace, field_selector=selector, _request_timeout=TIMEOUT
            ),
        )
        events: list[dict[str, Any]] = self._core.api_client.sanitize_for_serialization(found.items)
        return events

    def create_evaljob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"].get("name") or body["metadata"].get("generateName", "")
        created: dict[str, Any] = self._call(
            EVALJOB_PLURAL,
            name,
            lambda: self._custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, EVALJOB_PLURAL, body, _request_timeout=TIMEOUT
            ),
        )
        return created

    def _get_custom(self, plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            plural,
            name,
            lambda: self._custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name, _request_timeout=TIMEOUT
            ),
        )
        return found

    def _call(self, plural: str, name: str | None, request: Callable[[], Any]) -> Any:
        try:
            return request()
        except ApiException as err:
            raise self._api_error(err, plural, name) from None
        except urllib3.exceptions.HTTPError as err:
            reason = getattr(err, "reason", None) or err
            raise PluginError(f"cannot reach the API server at {self.server}: {reason}") from None

    def _api_error(self, err: ApiException, plural: str, name: str | None) -> PluginError:
        kind = _KINDS.get(plural, plural)
        if err.status == 404 and name is not None:
            return _NotFoundError(f'{kind} "{name}" not found in namespace "{self.namespace}"')
        if err.status == 409 and name is not None:
            return PluginError(f'{kind} "{name}" already exists in namespace "{self.namespace}"')
        message = _server_message(err)
        if err.status == 403:
            return PluginError(f"forbidden: {message}")
        if err.status == 401:
            return PluginError(f"unauthorized: {message or 'the credentials were rejected'}")
        return PluginError(f"API server said {err.status} {err.reason}: {message}")


class _NotFoundError(PluginError):
    """A 404 on a named object (kept apart so a missing ConfigMap can be reported in context)."""


def _server_message(err: ApiException) -> str:
    """The Status object's message (one line), else the HTTP reason."""
    try:
        status = json.loads(err.body or "")
    except (TypeError, ValueError):
        status = None
    message = status.get("message") if isinstance(status, dict) else None
    return " ".join(str(message or err.reason or "").split())

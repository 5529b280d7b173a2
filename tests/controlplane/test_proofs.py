"""Proofs that the control plane is a real kube-apiserver, not a fake (issue 2, item 3).

Each test checks behaviour that fakes such as kmock lack: structural schemas and pruning, CEL
rules, status-subresource separation, printer columns, garbage collection, namespace
finalization and RBAC for ServiceAccount tokens. They use their own ``Widget`` CRD so they do
not depend on the project's CRDs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.support.controlplane import ControlPlane, ExternalCluster, Kubectl, wait_until

__all__: list[str] = []

pytestmark = pytest.mark.controlplane

GROUP, VERSION, PLURAL, KIND = "proof.testenv.dev", "v1", "widgets", "Widget"
CRD_NAME = f"{PLURAL}.{GROUP}"
# The garbage collector rediscovers new kinds every 30 s; widget_crd restarts the local
# controller-manager so it knows Widgets at once, while an external cluster may take a minute.
GC_TIMEOUT_LOCAL, GC_TIMEOUT_EXTERNAL = 30.0, 90.0

WIDGET_CRD = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {CRD_NAME}
spec:
  group: {GROUP}
  scope: Namespaced
  names: {{kind: {KIND}, plural: {PLURAL}, singular: widget, shortNames: [wd]}}
  versions:
    - name: {VERSION}
      served: true
      storage: true
      subresources: {{status: {{}}}}
      additionalPrinterColumns:
        - {{name: Size, type: integer, jsonPath: .spec.size}}
        - {{name: Color, type: string, jsonPath: .spec.color}}
        - {{name: Phase, type: string, jsonPath: .status.phase}}
        - {{name: Age, type: date, jsonPath: .metadata.creationTimestamp}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size, color]
              x-kubernetes-validations:
                - rule: "!has(self.maxSize) || self.size <= self.maxSize"
                  message: "must not exceed maxSize"
                  fieldPath: .size
              properties:
                size: {{type: integer, minimum: 1}}
                maxSize: {{type: integer}}
                color:
                  type: string
                  x-kubernetes-validations:
                    - {{rule: "self == oldSelf", message: "is immutable"}}
            status:
              type: object
              properties:
                phase: {{type: string}}
"""

Cluster = ControlPlane | ExternalCluster


@pytest.fixture(scope="module")
def widget_crd(control_plane: Cluster, kubectl: Kubectl) -> Iterator[str]:
    """The proof CRD, installed once for the module and removed afterwards."""
    kubectl("apply", "--server-side", "--field-manager=pytest", "-f", "-", input=WIDGET_CRD)
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    if isinstance(control_plane, ControlPlane):
        control_plane.restart_controller_manager()  # GC learns the new kind now, not in 30 s
    yield CRD_NAME
    kubectl("delete", "crd", CRD_NAME, "--wait=false", check=False)


@pytest.fixture
def objects(kube_api: k8s.ApiClient, widget_crd: str) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(kube_api)


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name},
        "spec": spec,
    }


def create(objects: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> Any:
    return objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def get(objects: k8s.CustomObjectsApi, namespace: str, name: str) -> Any:
    return objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def replace(objects: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> Any:
    name = body["metadata"]["name"]
    return objects.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body)


def replace_status(objects: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> Any:
    name = body["metadata"]["name"]
    return objects.replace_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, body
    )


def rejection(call: Callable[..., Any], *args: Any) -> tuple[int, str]:
    """Run a call that must fail; return the HTTP status and the server's message."""
    with pytest.raises(ApiException) as info:
        call(*args)
    return int(info.value.status), str(json.loads(info.value.body).get("message", ""))


def not_found(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


# --------------------------------------------------------------------------- proofs


def test_crd_is_served_discoverable_and_prunes_unknown_fields(
    kube_api: k8s.ApiClient, objects: k8s.CustomObjectsApi, namespace: str
) -> None:
    groups = {g.name for g in k8s.ApisApi(kube_api).get_api_versions().groups}
    assert GROUP in groups
    resources = {r.name: r for r in objects.get_api_resources(GROUP, VERSION).resources}
    assert resources[PLURAL].namespaced is True
    assert resources[PLURAL].short_names == ["wd"]
    assert "widgets/status" in resources

    created = create(objects, namespace, widget("w1", size=3, color="red", bogus=True))
    fetched = get(objects, namespace, "w1")

    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]
    assert fetched["metadata"]["generation"] == 1
    assert int(fetched["metadata"]["resourceVersion"]) > 0
    assert fetched["spec"] == {"size": 3, "color": "red"}  # "bogus" pruned by the schema


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"size": "big", "color": "red"}, ["spec.size", "must be of type integer"]),
        ({"size": 0, "color": "red"}, ["spec.size", "greater than or equal to 1"]),
        ({"size": 1}, ["spec.color", "Required value"]),
    ],
    ids=["wrong-type", "below-minimum", "missing-required"],
)
def test_structural_schema_violation_is_rejected_naming_the_field(
    objects: k8s.CustomObjectsApi, namespace: str, spec: dict[str, Any], fragments: list[str]
) -> None:
    status, message = rejection(create, objects, namespace, widget("bad", **spec))

    assert status == 422
    for fragment in fragments:
        assert fragment in message
    assert not_found(lambda: get(objects, namespace, "bad"))


def test_cel_rules_are_enforced_with_their_message_and_field(
    objects: k8s.CustomObjectsApi, namespace: str
) -> None:
    status, message = rejection(
        create, objects, namespace, widget("w", size=5, maxSize=4, color="red")
    )
    assert status == 422
    assert "spec.size" in message
    assert "must not exceed maxSize" in message

    current = create(objects, namespace, widget("w", size=3, color="red"))
    current["spec"]["color"] = "blue"
    status, message = rejection(replace, objects, namespace, current)
    assert status == 422
    assert "spec.color" in message
    assert "is immutable" in message

    current["spec"].update(color="red", size=4)  # a change the rules allow goes through
    assert replace(objects, namespace, current)["spec"] == {"size": 4, "color": "red"}


def test_status_subresource_separates_spec_and_status(
    objects: k8s.CustomObjectsApi, namespace: str
) -> None:
    body = widget("w", size=1, color="red")
    created = create(objects, namespace, {**body, "status": {"phase": "Injected"}})
    assert "status" not in created  # status is not settable on create

    created["spec"]["size"] = 2
    created["status"] = {"phase": "Hacked"}
    updated = replace(objects, namespace, created)
    assert updated["spec"]["size"] == 2
    assert "status" not in updated  # a main-resource update ignores status
    assert updated["metadata"]["generation"] == 2

    updated["spec"]["size"] = 99
    updated["status"] = {"phase": "Ready"}
    after = replace_status(objects, namespace, updated)
    assert after["status"] == {"phase": "Ready"}
    assert after["spec"]["size"] == 2  # a /status update ignores spec
    assert after["metadata"]["generation"] == 2  # and does not bump the generation


def test_kubectl_get_shows_printer_columns(
    objects: k8s.CustomObjectsApi, kubectl: Kubectl, namespace: str
) -> None:
    created = create(objects, namespace, widget("shown", size=7, color="green"))
    replace_status(objects, namespace, {**created, "status": {"phase": "Ready"}})

    lines = kubectl("get", "wd", "-n", namespace).stdout.splitlines()

    assert lines[0].split() == ["NAME", "SIZE", "COLOR", "PHASE", "AGE"]
    assert lines[1].split()[:4] == ["shown", "7", "green", "Ready"]


def test_service_account_token_is_authorised_only_by_its_rbac(
    control_plane: Cluster, kube_api: k8s.ApiClient, namespace: str, tmp_path: Path
) -> None:
    token = control_plane.service_account_token(namespace, "reader", expiration_seconds=600)
    path = control_plane.kubeconfig_for_token(token, tmp_path / "reader.kubeconfig")
    with k8s_config.new_client_from_config(config_file=str(path)) as sa_api:
        sa_core = k8s.CoreV1Api(sa_api)
        review = k8s.AuthenticationV1Api(sa_api).create_self_subject_review({})
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:reader"
        assert rejection(sa_core.list_namespaced_config_map, namespace)[0] == 403

        _grant_configmap_reading(kube_api, namespace, "reader")
        wait_until(
            lambda: _allowed(lambda: sa_core.list_namespaced_config_map(namespace)),
            timeout=15,
            what="the RoleBinding to take effect",
        )

        assert rejection(sa_core.list_namespaced_secret, namespace)[0] == 403
        assert rejection(sa_core.list_namespaced_config_map, "default")[0] == 403
        configmap = {"metadata": {"name": "nope"}}
        assert rejection(sa_core.create_namespaced_config_map, namespace, configmap)[0] == 403


def _grant_configmap_reading(api: k8s.ApiClient, namespace: str, account: str) -> None:
    rbac = k8s.RbacAuthorizationV1Api(api)
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "read-cm"}, "rules": [rule]})
    binding = {
        "metadata": {"name": "read-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-cm"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }
    rbac.create_namespaced_role_binding(namespace, binding)


def _allowed(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ApiException as exc:
        if exc.status == 403:
            return False
        raise
    return True


def test_owned_object_is_garbage_collected_after_its_owner_is_deleted(
    control_plane: Cluster,
    kube_api: k8s.ApiClient,
    objects: k8s.CustomObjectsApi,
    namespace: str,
) -> None:
    local = isinstance(control_plane, ControlPlane)
    core = k8s.CoreV1Api(kube_api)
    owner = create(objects, namespace, widget("owner", size=1, color="red"))
    reference = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    owned = {"metadata": {"name": "owned", "ownerReferences": [reference]}}
    core.create_namespaced_config_map(namespace, owned)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "unowned"}})

    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "owner")

    wait_until(
        lambda: not_found(lambda: core.read_namespaced_config_map("owned", namespace)),
        timeout=GC_TIMEOUT_LOCAL if local else GC_TIMEOUT_EXTERNAL,
        what="the garbage collector to delete the owned ConfigMap",
        interval=1.0,
    )
    assert core.read_namespaced_config_map("unowned", namespace).metadata.name == "unowned"


def test_deleting_a_namespace_removes_it_and_its_contents(
    kube_api: k8s.ApiClient, objects: k8s.CustomObjectsApi
) -> None:
    core = k8s.CoreV1Api(kube_api)
    name = f"t-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": name}})
    create(objects, name, widget("inside", size=1, color="red"))
    core.create_namespaced_config_map(name, {"metadata": {"name": "inside"}})

    core.delete_namespace(name)

    wait_until(  # without the namespace controller it would stay Terminating forever
        lambda: not_found(lambda: core.read_namespace(name)),
        timeout=60,
        what="the namespace controller to finalize the namespace",
        interval=0.5,
    )

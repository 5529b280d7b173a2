"""Install the operator's own RBAC from deploy/ into a test namespace, under unique names.

Why: an RBAC proof must run the operator with exactly the permissions users install. This
takes the ServiceAccount, ClusterRoles and bindings from the rendered kustomization (not a
copy), moves the ServiceAccount into `namespace` and suffixes cluster-scoped names with it,
so tests can mint a token for the ServiceAccount (TokenRequest) without clashing with each
other or with a real install.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from subprocess import CompletedProcess
from typing import Any

from tests.deploy.manifests import DEPLOY_DIR, NAMESPACED_DIR, find_all, render

__all__ = ["OWNER_LABEL", "install_rbac", "rbac_objects", "uninstall_rbac"]

OWNER_LABEL = "test.nemo.dev/rbac-for"
SA_NAME = "nemo-evaluator-operator"
Kubectl = Callable[..., CompletedProcess[str]]
_OPERATOR_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding")


def install_rbac(
    kubectl: Kubectl, namespace: str, watch_namespaces: Sequence[str] | None = None
) -> str:
    """Apply the operator's RBAC for a ServiceAccount in `namespace`; return the SA's name.

    Cluster-wide mode (deploy/) by default; with `watch_namespaces`, namespaced mode
    (deploy/namespaced/) with one RoleBinding per listed namespace. Each listed namespace must
    exist. Remove the cluster-scoped objects afterwards with `uninstall_rbac`.
    """
    objects = rbac_objects(namespace, watch_namespaces)
    kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    return SA_NAME


def uninstall_rbac(kubectl: Kubectl, namespace: str) -> None:
    """Delete the cluster-scoped roles and bindings `install_rbac` made for `namespace`."""
    kubectl(
        "delete",
        "clusterrole,clusterrolebinding",
        "-l",
        f"{OWNER_LABEL}={namespace}",
        "--ignore-not-found",
        "--wait=false",
    )


def rbac_objects(
    namespace: str, watch_namespaces: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The rewritten objects `install_rbac` applies (no cluster access needed)."""
    docs = render(NAMESPACED_DIR if watch_namespaces else DEPLOY_DIR)
    bindings = find_all(docs, "ClusterRoleBinding") + find_all(docs, "RoleBinding")
    bound = {b["roleRef"]["name"] for b in bindings if _binds_operator(b)}
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if doc["kind"] not in _OPERATOR_KINDS:
            continue
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] not in bound:
            continue  # the user-facing editor/viewer roles
        if doc["kind"].endswith("Binding") and not _binds_operator(doc):
            continue
        objects.extend(_rewrite(doc, namespace, watch_namespaces or ()))
    return objects


def _binds_operator(binding: dict[str, Any]) -> bool:
    return any(
        s.get("kind") == "ServiceAccount" and s.get("name") == SA_NAME
        for s in binding.get("subjects", [])
    )


def _rewrite(
    doc: dict[str, Any], namespace: str, watch_namespaces: Sequence[str]
) -> list[dict[str, Any]]:
    obj = copy.deepcopy(doc)
    meta = obj["metadata"]
    meta.setdefault("labels", {})[OWNER_LABEL] = namespace
    if obj["kind"] == "ServiceAccount":
        meta["namespace"] = namespace
        return [obj]
    if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
        meta["name"] = f"{meta['name']}-{namespace}"
    if "roleRef" in obj:
        obj["roleRef"]["name"] = f"{obj['roleRef']['name']}-{namespace}"
        for subject in obj["subjects"]:
            subject["namespace"] = namespace
    if obj["kind"] != "RoleBinding":
        return [obj]
    per_namespace = []
    for watched in watch_namespaces:
        copy_ = copy.deepcopy(obj)
        copy_["metadata"]["namespace"] = watched
        copy_["metadata"]["name"] = f"nemo-evaluator-operator-{namespace}"
        per_namespace.append(copy_)
    return per_namespace

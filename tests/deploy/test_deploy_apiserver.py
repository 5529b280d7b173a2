"""deploy/ against the real kube-apiserver: server-side dry runs, fixtures and RBAC decisions.

Why: kustomize rendering proves the YAML is well-formed; only the API server proves it is
valid (schemas, Pod Security admission, RBAC), and only RBAC's authorizer proves the rules
grant what the operator needs and nothing else.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.deploy.argocd_lua import OBJECTS_DIR
from tests.deploy.manifests import DEPLOY_DIR, NAMESPACED_DIR, render
from tests.deploy.rbac import install_rbac, uninstall_rbac
from tests.support.controlplane import Kubectl

pytestmark = pytest.mark.controlplane

SYSTEM_NS = "nemo-evaluator-system"
GROUP = "evaluator.nemo.dev"


@pytest.fixture(scope="module")
def system_namespace(kubectl: Kubectl, crds: list[str]) -> Iterator[str]:
    """nemo-evaluator-system, created for real if missing (a dry run cannot fill a namespace
    that does not exist yet), and removed afterwards only if this test created it."""
    created = kubectl("get", "namespace", SYSTEM_NS, check=False).returncode != 0
    if created:
        kubectl("create", "namespace", SYSTEM_NS)
    yield SYSTEM_NS
    if created:
        kubectl("delete", "namespace", SYSTEM_NS, "--wait=false")


def _no_pod_security_warnings(stderr: str) -> None:
    assert "PodSecurity" not in stderr, stderr


def test_apply_k_deploy_dry_run_server(kubectl: Kubectl, system_namespace: str) -> None:
    result = kubectl("apply", "-k", str(DEPLOY_DIR), "--dry-run=server")
    _no_pod_security_warnings(result.stderr)
    out = result.stdout
    assert "deployment.apps/nemo-evaluator-operator created (server dry run)" in out
    assert "clusterrole.rbac.authorization.k8s.io/nemo-evaluator-operator-application" in out


def test_namespaced_overlay_dry_run_server(
    kubectl: Kubectl, system_namespace: str, namespace: str
) -> None:
    docs = render(NAMESPACED_DIR)
    text = yaml.safe_dump_all(docs).replace("team-a", namespace)
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=text)
    _no_pod_security_warnings(result.stderr)
    assert "rolebinding.rbac.authorization.k8s.io/nemo-evaluator-operator created" in result.stdout


def test_deployment_meets_restricted_pod_security(kubectl: Kubectl, namespace: str) -> None:
    """The Deployment's pod, dry-run in a namespace that enforces 'restricted' (as ours does)."""
    (deployment,) = [d for d in render(DEPLOY_DIR) if d["kind"] == "Deployment"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator-pod-check", "namespace": namespace},
        "spec": copy.deepcopy(deployment["spec"]["template"]["spec"]),
    }
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    result = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- fixtures vs CRDs


def _fixture_objects() -> list[tuple[str, dict[str, Any]]]:
    objects = []
    for path in sorted(OBJECTS_DIR.glob("*/testdata/*.yaml")):
        obj = yaml.safe_load(path.read_text())
        objects.append((f"{obj['kind'].lower()}-{path.stem}", obj))
    return objects


FIXTURES = _fixture_objects()


def _create_with_status(
    kubectl: Kubectl, namespace: str, name: str, obj: dict[str, Any]
) -> dict[str, Any]:
    """Create `obj` as `name` and write its status through the status subresource, as the
    operator does; returns the object as stored."""
    body = copy.deepcopy(obj)
    status = body.pop("status", None)
    body["metadata"] = {"name": name, "namespace": namespace}
    kubectl("create", "-f", "-", input=json.dumps(body))
    resource = f"{obj['kind'].lower()}s.{GROUP}/{name}"
    if status is not None:
        patch = json.dumps({"status": status})
        kubectl(
            "patch", resource, "-n", namespace, "--subresource=status", "--type=merge", "-p", patch
        )
    stored: dict[str, Any] = json.loads(
        kubectl("get", resource, "-n", namespace, "-o", "json").stdout
    )
    return stored


@pytest.mark.parametrize(("name", "obj"), FIXTURES, ids=[n for n, _ in FIXTURES])
def test_health_fixture_is_valid_for_the_crd(
    name: str, obj: dict[str, Any], kubectl: Kubectl, crds: list[str], namespace: str
) -> None:
    """The hand-written health fixtures must be objects the API server accepts as they are."""
    stored = _create_with_status(kubectl, namespace, name, obj)
    if "status" in obj:
        assert stored["status"] == obj["status"], "the API server pruned or changed status fields"


# --------------------------------------------------------------------------- kubectl wait


def _fixture(stem: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(
        (OBJECTS_DIR / "EvalJob" / "testdata" / f"{stem}.yaml").read_text()
    )
    return obj


def _wait(kubectl: Kubectl, namespace: str, name: str, condition: str, timeout: str) -> bool:
    result = kubectl(
        "wait",
        f"evaljob/{name}",
        "-n",
        namespace,
        f"--for={condition}",
        f"--timeout={timeout}",
        check=False,
    )
    return result.returncode == 0


def test_documented_kubectl_wait_commands(
    kubectl: Kubectl, crds: list[str], namespace: str
) -> None:
    """The `kubectl wait` forms docs/gitops.md recommends, on finished and running EvalJobs."""
    for stem in ("succeeded", "failed", "running"):
        _create_with_status(kubectl, namespace, stem, _fixture(stem))
    finished = "jsonpath={.status.completedAt}"
    assert _wait(kubectl, namespace, "succeeded", "condition=Succeeded", "10s")
    assert _wait(kubectl, namespace, "succeeded", "jsonpath={.status.phase}=Succeeded", "10s")
    assert _wait(kubectl, namespace, "succeeded", finished, "10s")
    assert _wait(kubectl, namespace, "failed", "condition=Succeeded=False", "10s")
    assert _wait(kubectl, namespace, "failed", "condition=Stalled", "10s")
    assert _wait(kubectl, namespace, "failed", finished, "10s")
    assert not _wait(kubectl, namespace, "failed", "condition=Succeeded", "1s")
    assert not _wait(kubectl, namespace, "running", finished, "1s")
    assert not _wait(kubectl, namespace, "running", "condition=Succeeded", "1s")


# --------------------------------------------------------------------------- RBAC decisions


def _can(kubectl: Kubectl, sa: str, namespace: str, verb: str, resource: str, where: str) -> bool:
    scope = ["--all-namespaces"] if where == "*" else ["-n", where]
    result = kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        *scope,
        f"--as=system:serviceaccount:{namespace}:{sa}",
        check=False,
    )
    return result.stdout.strip() == "yes"


@pytest.fixture
def cluster_sa(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    sa = install_rbac(kubectl, namespace)
    yield sa
    uninstall_rbac(kubectl, namespace)


ALLOWED_CLUSTER_WIDE = [
    ("list", f"evaljobs.{GROUP}"),
    ("watch", f"evaljobs.{GROUP}"),
    ("patch", f"evaljobs.{GROUP}"),
    ("patch", f"evaljobs.{GROUP}/status"),
    ("patch", f"benchmarks.{GROUP}"),
    ("patch", f"benchmarks.{GROUP}/status"),
    ("get", "secrets"),
    ("get", "configmaps"),
    ("create", "configmaps"),
    ("patch", "configmaps"),
    ("create", "events"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
]
DENIED = [
    ("delete", f"evaljobs.{GROUP}"),
    ("create", f"evaljobs.{GROUP}"),
    ("update", f"evaljobs.{GROUP}"),
    ("get", f"evaljobs.{GROUP}"),
    ("get", f"benchmarks.{GROUP}"),
    ("list", "secrets"),
    ("update", "configmaps"),
    ("delete", "configmaps"),
    ("create", "pods"),
    ("create", "events.events.k8s.io"),
    ("list", "namespaces"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
]


def test_cluster_mode_grants_exactly_the_needed_verbs(
    kubectl: Kubectl, namespace: str, cluster_sa: str
) -> None:
    granted = [
        (v, r) for v, r in ALLOWED_CLUSTER_WIDE if _can(kubectl, cluster_sa, namespace, v, r, "*")
    ]
    assert granted == ALLOWED_CLUSTER_WIDE
    leaked = [(v, r) for v, r in DENIED if _can(kubectl, cluster_sa, namespace, v, r, "*")]
    assert leaked == []


@pytest.fixture
def watched(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"{namespace}-watched"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def test_namespaced_mode_grants_only_inside_watched_namespaces(
    kubectl: Kubectl, namespace: str, watched: str
) -> None:
    sa = install_rbac(kubectl, namespace, watch_namespaces=[watched])
    try:
        for verb, resource in ALLOWED_CLUSTER_WIDE[:-1]:
            assert _can(kubectl, sa, namespace, verb, resource, watched), (verb, resource)
            assert not _can(kubectl, sa, namespace, verb, resource, "default"), (verb, resource)
        assert _can(kubectl, sa, namespace, "watch", "namespaces", "*")
        assert _can(
            kubectl, sa, namespace, "list", "customresourcedefinitions.apiextensions.k8s.io", "*"
        )
        assert not _can(kubectl, sa, namespace, "list", f"evaljobs.{GROUP}", "*")
    finally:
        with contextlib.suppress(Exception):
            uninstall_rbac(kubectl, namespace)

"""deploy/policy/ on the real kube-apiserver: each EvalPolicy rule refuses at apply, naming itself.

Why: the policies are what keep an EvalJob author from pointing the operator at any URL or NeMo
namespace; only the API server's own CEL evaluation proves they do. The binding is narrowed to
this module's labelled namespaces so no other test in the session is affected.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.deploy.manifests import render
from tests.support.controlplane import REPO_ROOT, Kubectl, wait_until

POLICY_DIR = REPO_ROOT / "deploy" / "policy"
LABEL = "nemo-policy-test"
SHARED_URL = "https://nim.shared.svc:8000/v1/chat/completions"
TEAM_B_URL = "http://nim.team-b.svc/v1/chat/completions"
AUTHOR, PLATFORM, NS_ADMIN = "alice", "pat", "bob"


def _default_policy(ns_b: str) -> dict[str, Any]:
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "EvalPolicy",
        "metadata": {"name": "default"},
        "spec": {
            "allowedTargetURLs": [r"https://nim\.shared\.svc(:[0-9]+)?/.*"],
            "allowedEvaluatorNamespaces": ["shared"],
            "requirePassCriteria": True,
            "requiredLabels": ["team"],
            "maxActiveDeadlineSeconds": 3600,
            "namespaces": {
                ns_b: {
                    "allowedTargetURLs": [r"http://nim\.team-b\.svc/.*"],
                    "allowedEvaluatorNamespaces": ["team-b"],
                    "requirePassCriteria": False,
                    "maxActiveDeadlineSeconds": 7200,
                }
            },
        },
    }


def evaljob(namespace: str, target: dict[str, Any], **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {"team": "a"})
    body = {"benchmarkRef": {"name": "bm"}, "target": target, **spec}
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "EvalJob",
        "metadata": {
            "name": f"ej-{secrets.token_hex(4)}",
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def v1_target(url: str) -> dict[str, Any]:
    return {"type": "model", "model": {"api_endpoint": {"url": url, "model_id": "m"}}}


def helix_target(url: str) -> dict[str, Any]:
    return {"url": url, "name": "m"}


GATE = [{"metric": "qa.bleu.sentence", "min": 10}]


def conforming(namespace: str, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"passCriteria": GATE, "activeDeadlineSeconds": 600}
    target = changes.pop("target", v1_target(SHARED_URL))
    spec.update(changes)
    return evaljob(namespace, target, **spec)


def benchmark(namespace: str, evaluator_ns: str | None, labels: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"config": {"type": "gsm8k"}}
    if evaluator_ns is not None:
        spec["evaluatorNamespace"] = evaluator_ns
    return {
        "apiVersion": "evaluator.nemo.dev/v1alpha1",
        "kind": "Benchmark",
        "metadata": {
            "name": f"bm-{secrets.token_hex(4)}",
            "namespace": namespace,
            "labels": {"team": "a"} if labels is None else labels,
        },
        "spec": spec,
    }


def apply(kubectl: Kubectl, obj: dict[str, Any], *as_user: str) -> tuple[bool, str]:
    result = kubectl("apply", *as_user, "-f", "-", input=json.dumps(obj), check=False)
    return result.returncode == 0, result.stderr


def refused(kubectl: Kubectl, obj: dict[str, Any], message: str, *as_user: str) -> str:
    """Apply ``obj``, expect a refusal containing ``message``; return kubectl's stderr."""
    ok, stderr = apply(kubectl, obj, *as_user)
    assert not ok, f"accepted: {obj}"
    assert message in stderr, stderr
    return stderr


@pytest.fixture(scope="module")
def policy(crds: list[str], kubectl: Kubectl, kube_api: k8s.ApiClient) -> Iterator[tuple[str, str]]:
    """deploy/policy/ installed, its binding narrowed to two fresh labelled namespaces."""
    core = k8s.CoreV1Api(kube_api)
    names = (f"pol-a-{secrets.token_hex(3)}", f"pol-b-{secrets.token_hex(3)}")
    for name in names:
        meta = k8s.V1ObjectMeta(name=name, labels={LABEL: "true"})
        core.create_namespace(k8s.V1Namespace(metadata=meta))
    docs = render(POLICY_DIR)
    for doc in docs:
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {LABEL: "true"}}}
    crd = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(crd))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/evalpolicies.evaluator.nemo.dev",
    )
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([d for d in docs if d not in crd]))
    kubectl("apply", "-f", "-", input=json.dumps(_default_policy(names[1])))
    # The apiserver picks policies up asynchronously: wait until a violation is refused.
    probe = conforming(names[0], passCriteria=None)
    wait_until(
        lambda: (
            "EvalPolicy rule"
            in kubectl(
                "create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False
            ).stderr
        ),
        60,
        "the admission policy to take effect",
    )
    yield names
    kubectl(
        "delete",
        "--ignore-not-found",
        "-f",
        "-",
        input=yaml.safe_dump_all(
            [d for d in docs if d["kind"].startswith("ValidatingAdmissionPolicy")]
        ),
    )
    for name in names:
        core.delete_namespace(name)


# --------------------------------------------------------------------------- EvalJob rules

REFUSED_IN_A = {
    "v1 URL not allowed": (
        {"target": v1_target("http://10.0.0.1/v1/chat/completions")},
        "EvalPolicy rule allowedTargetURLs",
    ),
    "Helix URL not allowed": (
        {"target": helix_target("https://internal.corp/v1")},
        "EvalPolicy rule allowedTargetURLs",
    ),
    "URL only prefixed by an allowed host": (
        {"target": v1_target("https://nim.shared.svc.evil.example/v1")},
        "matches none of the allowed patterns",
    ),
    "model reference has no URL": (
        {"target": {"type": "model", "model": "ns/some-model"}},
        "spec.target has no URL this policy can check",
    ),
    "passCriteria missing": ({"passCriteria": None}, "EvalPolicy rule requirePassCriteria"),
    "label missing": ({"labels": {"other": "x"}}, "EvalPolicy rule requiredLabels"),
    "deadline missing": (
        {"activeDeadlineSeconds": None},
        "EvalPolicy rule maxActiveDeadlineSeconds",
    ),
    "deadline too long": ({"activeDeadlineSeconds": 5000}, "at most 3600 (got 5000)"),
}


@pytest.mark.parametrize("case", list(REFUSED_IN_A))
def test_violating_evaljob_is_refused_naming_the_rule(
    policy: tuple[str, str], kubectl: Kubectl, case: str
) -> None:
    changes, message = REFUSED_IN_A[case]
    ok, stderr = apply(kubectl, conforming(policy[0], **changes))
    assert not ok, f"{case}: accepted"
    assert message in stderr, stderr
    assert "cluster default" in stderr, stderr


@pytest.mark.parametrize(
    "target", [v1_target(SHARED_URL), helix_target("https://nim.shared.svc/v1/chat/completions")]
)
def test_conforming_evaljob_is_accepted(
    policy: tuple[str, str], kubectl: Kubectl, target: dict[str, Any]
) -> None:
    ok, stderr = apply(kubectl, conforming(policy[0], target=target))
    assert ok, stderr


def test_rows_target_needs_no_url(policy: tuple[str, str], kubectl: Kubectl) -> None:
    rows = {"type": "rows", "rows": [{"prompt": "p", "response": "r"}]}
    ok, stderr = apply(kubectl, conforming(policy[0], target=rows))
    assert ok, stderr


def test_namespace_entry_overrides_the_default_field_by_field(
    policy: tuple[str, str], kubectl: Kubectl
) -> None:
    ns_b = policy[1]
    # Overridden: team-b's URL, no gate required, a longer deadline.
    ok, stderr = apply(
        kubectl,
        conforming(
            ns_b, target=v1_target(TEAM_B_URL), passCriteria=None, activeDeadlineSeconds=7000
        ),
    )
    assert ok, stderr
    # The default's URL is not team-b's.
    stderr = refused(kubectl, conforming(ns_b), "EvalPolicy rule allowedTargetURLs")
    assert f"namespaces.{ns_b} over the default" in stderr, stderr
    # Not overridden: requiredLabels still comes from the default.
    stderr = refused(
        kubectl,
        conforming(ns_b, target=v1_target(TEAM_B_URL), labels={}),
        "EvalPolicy rule requiredLabels",
    )
    assert "team" in stderr, stderr


# --------------------------------------------------------------------------- Benchmark rules


def test_benchmark_evaluator_namespace_rule(policy: tuple[str, str], kubectl: Kubectl) -> None:
    ns_a, ns_b = policy
    ok, stderr = apply(kubectl, benchmark(ns_a, "shared"))
    assert ok, stderr
    stderr = refused(
        kubectl, benchmark(ns_a, "team-b"), "EvalPolicy rule allowedEvaluatorNamespaces"
    )
    assert "team-b is not one of [shared]" in stderr, stderr
    stderr = refused(
        kubectl, benchmark(ns_a, None), "spec.evaluatorNamespace must be set to one of [shared]"
    )
    ok, stderr = apply(kubectl, benchmark(ns_b, "team-b"))
    assert ok, stderr
    stderr = refused(
        kubectl, benchmark(ns_b, "shared"), "EvalPolicy rule allowedEvaluatorNamespaces"
    )


def test_benchmark_required_labels(policy: tuple[str, str], kubectl: Kubectl) -> None:
    refused(kubectl, benchmark(policy[0], "shared", labels={}), "EvalPolicy rule requiredLabels")


def test_benchmark_spec_change_is_checked_too(policy: tuple[str, str], kubectl: Kubectl) -> None:
    bm = benchmark(policy[0], "shared")
    ok, stderr = apply(kubectl, bm)
    assert ok, stderr
    bm["spec"]["evaluatorNamespace"] = "elsewhere"
    stderr = refused(kubectl, bm, "EvalPolicy rule allowedEvaluatorNamespaces")


# --------------------------------------------------------------------------- RBAC


@pytest.fixture(scope="module")
def people(policy: tuple[str, str], kubectl: Kubectl) -> tuple[str, str]:
    """alice: nemo-evaluator-editor in namespace A; bob: cluster-admin bound in A only;
    pat: nemo-evaluator-policy-admin cluster-wide."""
    ns_a = policy[0]
    kubectl("apply", "-f", str(REPO_ROOT / "deploy" / "rbac" / "editor_role.yaml"))
    kubectl(
        "create",
        "rolebinding",
        "alice-edit",
        "-n",
        ns_a,
        "--clusterrole=nemo-evaluator-editor",
        f"--user={AUTHOR}",
    )
    kubectl(
        "create",
        "rolebinding",
        "bob-admin",
        "-n",
        ns_a,
        "--clusterrole=cluster-admin",
        f"--user={NS_ADMIN}",
    )
    name = f"pat-policy-{secrets.token_hex(3)}"
    kubectl(
        "create",
        "clusterrolebinding",
        name,
        "--clusterrole=nemo-evaluator-policy-admin",
        f"--user={PLATFORM}",
    )
    yield policy
    kubectl("delete", "clusterrolebinding", name)


def test_authors_cannot_change_the_policy(people: tuple[str, str], kubectl: Kubectl) -> None:
    ns_a = people[0]
    patch = '{"spec":{"maxActiveDeadlineSeconds":2592000}}'
    for user in (AUTHOR, NS_ADMIN):
        result = kubectl(
            "patch",
            f"--as={user}",
            "evalpolicy",
            "default",
            "--type=merge",
            "-p",
            patch,
            check=False,
        )
        assert result.returncode != 0, result.stdout
        assert "forbidden" in result.stderr.lower(), result.stderr
        for what in ("validatingadmissionpolicybinding", "validatingadmissionpolicy"):
            result = kubectl(
                "delete",
                f"--as={user}",
                what,
                "nemo-evaluator-eval-policy",
                "--dry-run=server",
                check=False,
            )
            assert "forbidden" in result.stderr.lower(), result.stderr
    # alice may create EvalJobs (RBAC), yet the policy still judges them.
    ok, stderr = apply(kubectl, conforming(ns_a), f"--as={AUTHOR}")
    assert ok, stderr
    stderr = refused(
        kubectl,
        conforming(ns_a, passCriteria=None),
        "EvalPolicy rule requirePassCriteria",
        f"--as={AUTHOR}",
    )


def test_platform_team_can_change_the_policy(people: tuple[str, str], kubectl: Kubectl) -> None:
    result = kubectl(
        "patch",
        f"--as={PLATFORM}",
        "evalpolicy",
        "default",
        "--type=merge",
        "-p",
        '{"spec":{"maxActiveDeadlineSeconds":3600}}',
        "--dry-run=server",
    )
    assert "patched" in result.stdout, result.stdout
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": AUTHOR,
            "resourceAttributes": {
                "group": "evaluator.nemo.dev",
                "resource": "evalpolicies",
                "verb": "update",
                "name": "default",
            },
        },
    }
    out = json.loads(kubectl("create", "-o", "json", "-f", "-", input=json.dumps(review)).stdout)
    assert out["status"]["allowed"] is False
    review["spec"]["user"] = PLATFORM
    out = json.loads(kubectl("create", "-o", "json", "-f", "-", input=json.dumps(review)).stdout)
    assert out["status"]["allowed"] is True


# --------------------------------------------------------------------------- no parameters


def test_missing_policy_object_admits_everything(people: tuple[str, str], kubectl: Kubectl) -> None:
    """Fail-open by design (parameterNotFoundAction: Allow), see deploy/policy/."""
    ns_a, ns_b = people
    existing = conforming(ns_a)
    ok, stderr = apply(kubectl, existing)
    assert ok, stderr
    kubectl("delete", "evalpolicy", "default")
    try:
        loose = conforming(ns_a, passCriteria=None, activeDeadlineSeconds=None)
        wait_until(lambda: apply(kubectl, loose)[0], 60, "admission without an EvalPolicy")
        name = existing["metadata"]["name"]
        kubectl("annotate", "-n", ns_a, "evaljob", name, "example.com/touched=yes")
        kubectl("delete", "-n", ns_a, "evaljob", name)
    finally:
        kubectl("apply", "-f", "-", input=json.dumps(_default_policy(ns_b)))
    probe = conforming(ns_a, passCriteria=None)
    wait_until(
        lambda: "EvalPolicy rule" in apply(kubectl, probe)[1], 60, "the policy to apply again"
    )


def test_metadata_writes_pass_a_stricter_policy(people: tuple[str, str], kubectl: Kubectl) -> None:
    """An EvalJob admitted earlier stays writable (annotations, finalizers) once rules tighten."""
    ns_a = people[0]
    old = conforming(ns_a, labels={"team": "a"})
    ok, stderr = apply(kubectl, old)
    assert ok, stderr
    name = old["metadata"]["name"]
    kubectl(
        "patch",
        "evalpolicy",
        "default",
        "--type=merge",
        "-p",
        '{"spec":{"requiredLabels":["team","cost-center"]}}',
    )
    try:
        wait_until(
            lambda: "cost-center" in apply(kubectl, conforming(ns_a))[1], 60, "stricter policy"
        )
        kubectl("annotate", "-n", ns_a, "evaljob", name, "example.com/touched=yes")
    finally:
        kubectl(
            "patch",
            "evalpolicy",
            "default",
            "--type=merge",
            "-p",
            '{"spec":{"requiredLabels":["team"]}}',
        )


def test_helix_benchmark_may_not_read_other_workspaces(
    policy: tuple[str, str], kubectl: Kubectl
) -> None:
    def helix(dataset: str, metric: Any) -> dict[str, Any]:
        bm = benchmark(policy[0], "shared")
        evaluation = {"metrics": [metric], "dataset": dataset, "params": {"max_retries": 1}}
        bm["spec"] = {"evaluatorNamespace": "shared", "evaluation": evaluation}
        return bm

    plain = {
        "type": "exact-match",
        "reference": "{{item.a}}",
        "candidate": "{{sample.output_text}}",
    }
    ok, stderr = apply(kubectl, helix("shared/fs#rows.jsonl", "shared/my-metric"))
    assert ok, stderr
    ok, stderr = apply(kubectl, helix("fs#rows.jsonl", plain))
    assert ok, stderr
    stderr = refused(
        kubectl, helix("team-b/fs#rows.jsonl", plain), "reads from workspace(s) team-b"
    )
    assert "EvalPolicy rule allowedEvaluatorNamespaces" in stderr
    refused(kubectl, helix("shared/fs#rows.jsonl", "other/metric"), "workspace(s) other,")

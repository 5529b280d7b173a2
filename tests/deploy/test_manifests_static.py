"""What `kubectl apply -k deploy/` would install, checked without a cluster.

Why: the hardening, the single-replica contract, the RBAC and the GitOps snippets are promises
to users; each test pins one of them to the rendered manifests, the Dockerfile or the code.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from nemo_evaluator_operator.settings import OperatorSettings
from tests.deploy.manifests import (
    DEPLOY_DIR,
    NAMESPACED_DIR,
    ROOT,
    Rule,
    find,
    find_all,
    find_generated,
    render,
    rules_of,
)

OPERATOR_PKG = ROOT / "operator" / "nemo_evaluator_operator"
SETTINGS = "nemo-evaluator-operator-settings"
SA = "nemo-evaluator-operator"
SYSTEM_NS = "nemo-evaluator-system"
GROUP = "evaluator.nemo.dev"

# The operator's own Kubernetes calls in resources/kube.py, as (resource, verb).
KUBE_CLIENT_VERBS: dict[str, tuple[str, str]] = {
    "patch_namespaced_custom_object": ("{plural}", "patch"),
    "patch_namespaced_custom_object_status": ("{plural}/status", "patch"),
    "read_namespaced_secret": ("secrets", "get"),
    "read_namespaced_config_map": ("configmaps", "get"),
    "patch_namespaced_config_map": ("configmaps", "patch"),  # server-side apply: + create
    "create_namespaced_event": ("events", "create"),
}
# What kopf does on the operator's behalf (kopf 1.45, standalone, cluster-wide, event handlers
# only): list and watch the served resources, and list/watch CRDs to notice resource changes at
# run time. It patches and posts nothing: no finalizer, progress, diff-base or Events.
KOPF_RULES: set[Rule] = {
    *((GROUP, plural, verb) for plural in ("benchmarks", "evaljobs") for verb in ("list", "watch")),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
}
PLURALS = {"BENCHMARK_PLURAL": "benchmarks", "EVALJOB_PLURAL": "evaljobs"}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(DEPLOY_DIR)


@pytest.fixture(scope="module")
def namespaced_docs() -> list[dict[str, Any]]:
    return render(NAMESPACED_DIR)


@pytest.fixture(scope="module")
def deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", "nemo-evaluator-operator")


@pytest.fixture(scope="module")
def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


# --------------------------------------------------------------------------- what gets installed


def test_installs_everything_in_one_apply(docs: list[dict[str, Any]]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Namespace", SYSTEM_NS) in kinds
    assert ("CustomResourceDefinition", f"benchmarks.{GROUP}") in kinds
    assert ("CustomResourceDefinition", f"evaljobs.{GROUP}") in kinds
    assert ("ServiceAccount", SA) in kinds
    assert ("Deployment", "nemo-evaluator-operator") in kinds
    find_generated(docs, "ConfigMap", SETTINGS)


def test_samples_are_not_installed(docs: list[dict[str, Any]]) -> None:
    assert not find_all(docs, "Benchmark")
    assert not find_all(docs, "EvalJob")
    assert not find_all(docs, "Secret"), "deploy/ must not ship a Secret (no real tokens)"


def test_namespaced_objects_live_in_the_operator_namespace(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] in {"ServiceAccount", "ConfigMap", "Deployment"}:
            assert doc["metadata"]["namespace"] == SYSTEM_NS, doc["metadata"]["name"]


def test_operator_namespace_enforces_restricted_pod_security(docs: list[dict[str, Any]]) -> None:
    labels = find(docs, "Namespace", SYSTEM_NS)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --------------------------------------------------------------------------- the Deployment


def test_single_replica_recreate(deployment: dict[str, Any]) -> None:
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_pod_security_settings(deployment: dict[str, Any], container: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}


def test_pod_basics(deployment: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA
    find(docs, "ServiceAccount", SA)
    assert pod["automountServiceAccountToken"] is True
    assert pod["terminationGracePeriodSeconds"] == 30


def test_resources_are_bounded(container: dict[str, Any]) -> None:
    resources = container["resources"]
    for key in ("cpu", "memory"):
        assert resources["requests"][key]
        assert resources["limits"][key]


def test_tmp_is_the_only_writable_path(
    deployment: dict[str, Any], container: dict[str, Any]
) -> None:
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    writable = [path for path, m in mounts.items() if not m.get("readOnly")]
    assert writable == ["/tmp"]


def test_token_secret_is_optional_and_matches_the_documented_path(
    deployment: dict[str, Any], container: dict[str, Any]
) -> None:
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    secret = volumes["nemo-evaluator-token"]["secret"]
    assert secret == {**secret, "secretName": "nemo-evaluator-token", "optional": True}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "nemo-evaluator-token")
    documented = f"{mount['mountPath']}/token"
    assert documented in (DEPLOY_DIR / "manager" / "settings.env").read_text()


def test_liveness_probe_matches_the_liveness_endpoint(container: dict[str, Any]) -> None:
    env = {e["name"]: e.get("value") for e in container["env"]}
    endpoint = urlsplit(env["OPERATOR_LIVENESS_ENDPOINT"])
    probe = container["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    port = ports.get(probe["port"], probe["port"])
    assert (endpoint.hostname, endpoint.port, endpoint.path) == ("0.0.0.0", port, probe["path"])


def test_settings_come_from_the_generated_configmap(
    container: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    settings = find_generated(docs, "ConfigMap", SETTINGS)
    refs = [e["configMapRef"]["name"] for e in container["envFrom"]]
    assert refs == [settings["metadata"]["name"]]


def test_shipped_settings_are_accepted_by_the_operator(
    container: dict[str, Any], docs: list[dict[str, Any]]
) -> None:
    env = dict(find_generated(docs, "ConfigMap", SETTINGS)["data"])
    env |= {e["name"]: e["value"] for e in container["env"]}
    settings = OperatorSettings.from_env(env)
    assert settings.watch_namespaces == []  # cluster-wide
    assert settings.token_file is None  # no token unless the user opts in
    assert settings.liveness_endpoint == env["OPERATOR_LIVENESS_ENDPOINT"]


def test_settings_keys_are_variables_the_operator_reads(docs: list[dict[str, Any]]) -> None:
    read = set()
    for path in OPERATOR_PKG.rglob("*.py"):
        read |= set(re.findall(r'"((?:NEMO_EVALUATOR|OPERATOR)_[A-Z_]+)"', path.read_text()))
    keys = set(find_generated(docs, "ConfigMap", SETTINGS)["data"])
    required = {
        "NEMO_EVALUATOR_URL",
        "NEMO_EVALUATOR_NAMESPACE",
        "OPERATOR_WATCH_NAMESPACES",
        "OPERATOR_POLL_INTERVAL",
    }
    assert required <= keys <= read


# --------------------------------------------------------------------------- image


def _console_script() -> tuple[str, str]:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (name,) = [n for n, target in scripts.items() if target.startswith("nemo_evaluator_operator.")]
    return name, scripts[name]


def _final_stage() -> list[tuple[str, str]]:
    """The Dockerfile's last stage as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), args.strip()))
    assert len(stages) >= 2, "expected a multi-stage build"
    return stages[-1]


def test_image_runs_the_console_script_as_non_root(container: dict[str, Any]) -> None:
    name, target = _console_script()
    assert target == "nemo_evaluator_operator.__main__:main"
    stage = dict(_final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == [name]
    assert container["command"] == [name]
    uid = stage["USER"].split(":")[0]
    assert uid.isdigit(), "USER must be numeric so runAsNonRoot can be verified"
    assert int(uid) != 0
    assert int(uid) == container["securityContext"]["runAsUser"]


def test_image_is_slim_python_without_build_tools() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.M)
    final = " ".join(args for _, args in _final_stage())
    assert "--no-index" in final, "the final stage installs only the built wheels"
    for tool in ("gcc", "build-essential", "apt-get install", "[emulator]", "[test]"):
        assert tool not in final


def test_docker_context_holds_what_the_build_copies() -> None:
    build_copies = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = [src for line in build_copies for src in line.split()]
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for src in sources:
        assert (ROOT / src).exists(), src
        assert src.rstrip("/") in included, f"{src} is excluded by .dockerignore"


# --------------------------------------------------------------------------- RBAC


def _roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return find_all(docs, "ClusterRole") + find_all(docs, "Role")


@pytest.mark.parametrize("which", ["cluster", "namespaced"])
def test_rbac_has_no_wildcards(
    which: str, docs: list[dict[str, Any]], namespaced_docs: list[dict[str, Any]]
) -> None:
    for role in _roles(docs if which == "cluster" else namespaced_docs):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)
            assert "resourceNames" not in rule or rule["resourceNames"]


def _granted_to_operator(docs: list[dict[str, Any]]) -> dict[str | None, set[Rule]]:
    """Rules bound to the operator's ServiceAccount, by namespace (None = cluster-wide)."""
    roles = {(r["kind"], r["metadata"]["name"]): r for r in _roles(docs)}
    granted: dict[str | None, set[Rule]] = {}
    for binding in find_all(docs, "ClusterRoleBinding") + find_all(docs, "RoleBinding"):
        subjects = binding.get("subjects", [])
        ours = {"kind": "ServiceAccount", "name": SA, "namespace": SYSTEM_NS}
        if not any(s == ours for s in subjects):
            continue
        ref = binding["roleRef"]
        role = roles[(ref["kind"], ref["name"])]  # KeyError: a binding to a missing role
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        granted.setdefault(scope, set()).update(rules_of(role))
    return granted


def _kube_py_rules() -> set[Rule]:
    """Every Kubernetes API call in resources/kube.py, mapped to the RBAC it needs.

    Calls look like `self._core.read_namespaced_secret(...)` or, on a worker thread,
    `_call(what, self._custom.get_namespaced_custom_object, GROUP, ..., PLURAL, name)`.
    """
    tree = ast.parse((OPERATOR_PKG / "resources" / "kube.py").read_text())
    rules: set[Rule] = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        for method in filter(None, map(_client_method, [call.func, *call.args[:2]])):
            assert method.attr in KUBE_CLIENT_VERBS, (
                f"kube.py calls {method.attr}: map and grant it"
            )
            resource, verb = KUBE_CLIENT_VERBS[method.attr]
            if _client_of(method) == "_core":
                rules.add(("", resource, verb))
                continue
            args = [a.id for a in call.args if isinstance(a, ast.Name) and a.id in PLURALS]
            assert args, f"kube.py: no plural constant in the call to {method.attr}"
            rules |= {(GROUP, resource.format(plural=PLURALS[a]), verb) for a in args}
    if ("", "configmaps", "patch") in rules:  # server-side apply of a new object creates it
        rules.add(("", "configmaps", "create"))
    return rules


def _client_method(node: ast.expr) -> ast.Attribute | None:
    """`self._custom.<method>` or `self._core.<method>`, else None."""
    if isinstance(node, ast.Attribute) and _client_of(node) in ("_custom", "_core"):
        return node
    return None


def _client_of(method: ast.Attribute) -> str | None:
    return method.value.attr if isinstance(method.value, ast.Attribute) else None


def test_kube_py_calls_are_all_mapped() -> None:
    """The parser finds calls of both clients (so an empty result cannot pass as "nothing")."""
    assert {(GROUP, "evaljobs", "patch"), ("", "secrets", "get")} <= _kube_py_rules()


def test_only_kube_py_talks_to_kubernetes_directly() -> None:
    """Everything else goes through kopf, whose calls KOPF_RULES lists."""
    importers = {
        path.relative_to(OPERATOR_PKG).as_posix()
        for path in OPERATOR_PKG.rglob("*.py")
        if re.search(r"^\s*(from|import) kubernetes\b", path.read_text(), re.M)
    }
    assert importers == {"resources/kube.py"}


def test_kopf_serves_only_our_two_resources() -> None:
    """KOPF_RULES assumes kopf lists, watches and patches Benchmarks and EvalJobs only."""
    import kopf

    from nemo_evaluator_operator import handlers  # noqa: F401  (registers the handlers)

    registry = kopf.get_default_registry()
    parts = (registry._changing, registry._spawning, registry._watching, registry._indexing)
    served = {
        (h.selector.group, h.selector.plural or h.selector.any_name)
        for part in (*parts, registry._webhooks)
        for h in part.get_all_handlers()
        if h.selector is not None
    }
    assert served == {(GROUP, "benchmarks"), (GROUP, "evaljobs")}


def test_operator_rbac_is_exactly_what_the_code_uses(docs: list[dict[str, Any]]) -> None:
    granted = _granted_to_operator(docs)
    assert set(granted) == {None}, "cluster-wide mode uses ClusterRoleBindings only"
    assert granted[None] == KOPF_RULES | _kube_py_rules()


def test_rbac_is_split_into_framework_and_application(docs: list[dict[str, Any]]) -> None:
    framework = rules_of(find(docs, "ClusterRole", "nemo-evaluator-operator-framework"))
    application = rules_of(find(docs, "ClusterRole", "nemo-evaluator-operator-application"))
    assert {r[0] for r in framework} == {"apiextensions.k8s.io"}
    assert not {r[0] for r in application} & {"apiextensions.k8s.io"}


def test_namespaced_mode_grants_application_rules_per_namespace_only(
    namespaced_docs: list[dict[str, Any]],
) -> None:
    granted = _granted_to_operator(namespaced_docs)
    application = rules_of(
        find(namespaced_docs, "ClusterRole", "nemo-evaluator-operator-application")
    )
    cluster_wide = granted.pop(None)
    assert not cluster_wide & application
    assert cluster_wide == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
    settings = find_generated(namespaced_docs, "ConfigMap", SETTINGS)["data"]
    watched = {ns.strip() for ns in settings["OPERATOR_WATCH_NAMESPACES"].split(",")}
    assert set(granted) == watched == {"team-a"}
    assert all(rules == application for rules in granted.values())


def test_namespaced_settings_restart_the_operator(
    docs: list[dict[str, Any]], namespaced_docs: list[dict[str, Any]]
) -> None:
    cluster_cm = find_generated(docs, "ConfigMap", SETTINGS)["metadata"]["name"]
    namespaced_cm = find_generated(namespaced_docs, "ConfigMap", SETTINGS)["metadata"]["name"]
    assert cluster_cm != namespaced_cm
    deployment = find(namespaced_docs, "Deployment", "nemo-evaluator-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"][0]["configMapRef"]["name"] == namespaced_cm


@pytest.mark.parametrize(
    ("name", "aggregate_to", "verbs"),
    [
        ("nemo-evaluator-editor", "edit", {"create", "update", "patch", "delete"}),
        ("nemo-evaluator-viewer", "view", {"get", "list", "watch"}),
    ],
)
def test_user_roles_aggregate_into_builtin_roles(
    name: str, aggregate_to: str, verbs: set[str], docs: list[dict[str, Any]]
) -> None:
    role = find(docs, "ClusterRole", name)
    labels = role["metadata"]["labels"]
    assert labels[f"rbac.authorization.k8s.io/aggregate-to-{aggregate_to}"] == "true"
    rules = rules_of(role)
    for plural in ("benchmarks", "evaljobs"):
        assert {(GROUP, plural, v) for v in verbs} <= rules
        assert (GROUP, f"{plural}/status", "update") not in rules
        assert (GROUP, f"{plural}/status", "patch") not in rules


# --------------------------------------------------------------------------- GitOps snippets


def test_argocd_snippet_embeds_the_lua_files_verbatim() -> None:
    cm = yaml.safe_load((DEPLOY_DIR / "argocd" / "argocd-cm-health.yaml").read_text())
    assert (cm["kind"], cm["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    prefix = f"resource.customizations.health.{GROUP}_"
    scripts = {k.removeprefix(prefix): v for k, v in cm["data"].items() if k.startswith(prefix)}
    files = {p.stem: p.read_text() for p in (DEPLOY_DIR / "argocd" / "health").glob("*.lua")}
    assert set(scripts) == set(files) == {"Benchmark", "EvalJob"}
    for kind, text in files.items():
        assert scripts[kind] == text, f"{kind}: argocd-cm-health.yaml differs from {kind}.lua"


def test_flux_snippet_has_health_expressions_for_both_kinds() -> None:
    docs = list(yaml.safe_load_all((DEPLOY_DIR / "flux" / "kustomization-health.yaml").read_text()))
    evals = next(d for d in docs if d and d["spec"].get("healthCheckExprs"))
    assert evals["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert evals["spec"]["wait"] is True
    assert evals["spec"]["force"] is True
    exprs = {e["kind"]: e for e in evals["spec"]["healthCheckExprs"]}
    assert set(exprs) == {"Benchmark", "EvalJob"}
    for expr in exprs.values():
        assert expr["apiVersion"] == f"{GROUP}/v1alpha1"
        assert "Ready" in expr["current"]
        assert "metadata.generation" in expr["current"]
        assert "Stalled" in expr["failed"]
        assert "observedGeneration" in expr["inProgress"]


def test_kustomizations_reference_existing_paths() -> None:
    for path in DEPLOY_DIR.rglob("kustomization.yaml"):
        spec = yaml.safe_load(path.read_text())
        for entry in spec.get("resources", []):
            assert (path.parent / entry).exists(), f"{path}: {entry}"


def test_admission_policies_are_an_optional_part(docs: list[dict[str, Any]]) -> None:
    """deploy/policy/ renders on its own, stays out of deploy/, and no author role reaches it."""
    policy = render(DEPLOY_DIR / "policy")
    kinds = {doc["kind"] for doc in policy}
    assert {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} <= kinds
    assert not [doc for doc in docs if doc["kind"].startswith("ValidatingAdmissionPolicy")]
    (crd,) = find_all(policy, "CustomResourceDefinition")
    assert crd["spec"]["scope"] == "Cluster"  # only ClusterRoleBindings can grant it
    admin = find(policy, "ClusterRole", "nemo-evaluator-policy-admin")
    assert not any(
        k.startswith("rbac.authorization.k8s.io/aggregate") for k in admin["metadata"]["labels"]
    )
    for role in find_all(docs, "ClusterRole"):
        for rule in role.get("rules", []):
            assert "evalpolicies" not in rule.get("resources", []), role["metadata"]["name"]

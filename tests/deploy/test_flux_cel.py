"""The Flux healthCheckExprs, evaluated by cel-go the way Flux evaluates them.

Why: Flux gates a Kustomization on these expressions; a typo or a field that is absent makes
it wait until its timeout. celcheck/ is a small Go program with Flux's CEL environment and
evaluation order (fluxcd/pkg runtime/cel), run here on the same fixture objects as the Argo
CD health checks, so both GitOps tools read an object the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.argocd_lua import HealthCase, health_cases
from tests.deploy.manifests import DEPLOY_DIR

CELCHECK_DIR = Path(__file__).resolve().parent / "celcheck"
FLUX_SNIPPET = DEPLOY_DIR / "flux" / "kustomization-health.yaml"
BUILD_TIMEOUT = 900  # a cold build compiles cel-go and protobuf
# Argo CD health → kstatus status of the same object.
KSTATUS = {"Healthy": "Current", "Degraded": "Failed", "Progressing": "InProgress"}
CASES = [case for kind in ("Benchmark", "EvalJob") for case in health_cases(kind)]


@pytest.fixture(scope="session")
def celcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is not installed (needed to build tests/deploy/celcheck)", pytrace=False)
    binary = tmp_path_factory.mktemp("celcheck") / "celcheck"
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=CELCHECK_DIR,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"go build celcheck failed:\n{result.stderr}"
    return binary


def _expressions() -> dict[str, dict[str, str]]:
    docs = [d for d in yaml.safe_load_all(FLUX_SNIPPET.read_text()) if d]
    exprs = [e for d in docs for e in d["spec"].get("healthCheckExprs", [])]
    fields = ("inProgress", "failed", "current")
    return {e["kind"]: {f: e.get(f, "") for f in fields} for e in exprs}


def _evaluate(celcheck: Path, objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    payload = json.dumps({"exprs": _expressions(), "objects": objects})
    result = subprocess.run(
        [str(celcheck)], input=payload, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    statuses: list[dict[str, str]] = json.loads(result.stdout)
    return statuses


@pytest.fixture(scope="module")
def flux_status(celcheck: Path) -> dict[str, dict[str, str]]:
    results = _evaluate(celcheck, [case.load() for case in CASES])
    return {case.id: result for case, result in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_flux_agrees_with_argocd(case: HealthCase, flux_status: dict[str, dict[str, str]]) -> None:
    result = flux_status[case.id]
    if "status" not in case.load():
        # No status at all: every expression reads status, which CEL reports as an error;
        # Flux keeps waiting (Unknown) until the operator's first write, as documented.
        assert result["status"] == "Unknown"
        assert "status" in result["error"]
        return
    assert result == {"status": KSTATUS[case.status]}


def test_expressions_parse_in_fluxs_environment(celcheck: Path) -> None:
    """A minimal object of each kind goes through all three expressions without an error."""
    for kind in ("Benchmark", "EvalJob"):
        obj = {
            "kind": kind,
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "phase": "Running", "conditions": []},
        }
        (result,) = _evaluate(celcheck, [obj])
        assert result == {"status": "InProgress"}, kind

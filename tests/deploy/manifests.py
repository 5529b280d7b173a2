"""Render deploy/ with kustomize and look things up in the result.

Why: the tests check what `kubectl apply -k` would really send, not the source files, so
kustomize's name hashes, namespaces and patches are part of what is tested.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.support.controlplane import find_bin_dir

__all__ = [
    "DEPLOY_DIR",
    "NAMESPACED_DIR",
    "ROOT",
    "Rule",
    "find",
    "find_all",
    "find_generated",
    "kubectl_binary",
    "render",
    "rules_of",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = ROOT / "deploy"
NAMESPACED_DIR = DEPLOY_DIR / "namespaced"

Rule = tuple[str, str, str]  # (apiGroup, resource, verb)


def kubectl_binary() -> Path:
    """`.testbin/kubectl` (built by `make testbin`), else one on PATH; fails if neither exists."""
    built = find_bin_dir() / "kubectl"
    if built.is_file():
        return built
    on_path = shutil.which("kubectl")
    if on_path is None:
        raise AssertionError(f"kubectl not found in {built.parent} or on PATH: run `make testbin`")
    return Path(on_path)


def render(path: Path = DEPLOY_DIR) -> list[dict[str, Any]]:
    """`kubectl kustomize <path>` as a list of objects."""
    result = subprocess.run(
        [str(kubectl_binary()), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize {path} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find_all(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Every object of `kind`."""
    return [doc for doc in docs if doc.get("kind") == kind]


def find(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name`."""
    matches = [doc for doc in find_all(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def find_generated(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object kustomize generated as `name` (it appends `-<10-char hash>`)."""
    matches = [
        doc
        for doc in find_all(docs, kind)
        if re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", doc["metadata"]["name"])
    ]
    assert len(matches) == 1, f"expected one generated {kind} {name}, found {len(matches)}"
    return matches[0]


def rules_of(role: dict[str, Any]) -> set[Rule]:
    """A Role's rules flattened to (apiGroup, resource, verb) triples."""
    return {
        (group, resource, verb)
        for rule in role.get("rules", [])
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }

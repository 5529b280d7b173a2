"""Paths and loaders shared by the CRD/model/sample tests."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CRD_DIR",
    "INVALID_DIR",
    "SAMPLES_DIR",
    "InvalidCase",
    "crd_schema",
    "invalid_cases",
    "load_crd",
    "load_samples",
    "with_namespace",
]

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
SAMPLES_DIR = ROOT / "deploy" / "samples"
INVALID_DIR = Path(__file__).resolve().parent / "invalid"


def load_crd(plural: str) -> dict[str, Any]:
    """Load ``crds/<plural>.evaluator.nemo.dev.yaml``."""
    path = CRD_DIR / f"{plural}.evaluator.nemo.dev.yaml"
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def crd_schema(plural: str) -> dict[str, Any]:
    """The openAPIV3Schema of the only version of a CRD."""
    (version,) = load_crd(plural)["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def load_samples() -> dict[str, dict[str, Any]]:
    """Every document in deploy/samples (v1) and deploy/samples/helix, keyed by the path below
    deploy/samples (one document per file)."""
    samples: dict[str, dict[str, Any]] = {}
    for path in sorted(SAMPLES_DIR.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert len(docs) == 1, f"{path.name}: expected one document, got {len(docs)}"
        samples[str(path.relative_to(SAMPLES_DIR))] = docs[0]
    return samples


def with_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of a namespace-less sample as the API server would return it."""
    out = copy.deepcopy(obj)
    out["metadata"]["namespace"] = namespace
    return out


@dataclass(frozen=True)
class InvalidCase:
    """One manifest the API server must reject, and what its error must mention."""

    path: Path
    expect: tuple[str, ...]

    @property
    def id(self) -> str:
        """Test id: the file name without extension."""
        return self.path.stem


def invalid_cases() -> list[InvalidCase]:
    """Every tests/manifests/invalid/*.yaml with its ``# expect: ...`` header lines."""
    cases = []
    for path in sorted(INVALID_DIR.glob("*.yaml")):
        expect = tuple(
            line.split(":", 1)[1].strip()
            for line in path.read_text().splitlines()
            if line.startswith("# expect:")
        )
        cases.append(InvalidCase(path, expect))
    return cases

"""Two EvalJobs' scores side by side, refused when they did not run the same Benchmark config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import PluginError
from .table import delta, render, score

__all__ = ["comparable", "render_comparison", "require_comparable"]


def comparable(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why the two runs cannot be compared (None when they can): their config hashes differ.

    The config hash is what the operator records of the Benchmark config each EvalJob ran with;
    equal hashes mean the same tasks, metrics and parameters, so a delta means the model.
    """
    hashes = [(ej.get("status") or {}).get("configHash") for ej in (a, b)]
    names = [ej["metadata"]["name"] for ej in (a, b)]
    for name, value in zip(names, hashes, strict=True):
        if not value:
            return f'EvalJob "{name}" records no config hash, so its config cannot be checked'
    if hashes[0] != hashes[1]:
        return (
            f'EvalJobs "{names[0]}" and "{names[1]}" ran different Benchmark configs '
            f"(config hash {hashes[0]} vs {hashes[1]})"
        )
    return None


def require_comparable(a: dict[str, Any], b: dict[str, Any], force: bool) -> str | None:
    """Raise unless comparable or forced; return the warning to print when forced."""
    problem = comparable(a, b)
    if problem and not force:
        raise PluginError(f"{problem}; pass --force to compare anyway")
    return problem


def render_comparison(
    a: dict[str, Any],
    b: dict[str, Any],
    scores_a: Mapping[str, float],
    scores_b: Mapping[str, float],
) -> str:
    """A header (model, Benchmark, config) then one row per metric: A, B and B - A."""
    name_a, name_b = a["metadata"]["name"], b["metadata"]["name"]
    header = render(
        ["", name_a, name_b],
        [
            ["MODEL", _status(a, "model"), _status(b, "model")],
            ["BENCHMARK", _benchmark(a), _benchmark(b)],
            ["CONFIG HASH", _status(a, "configHash"), _status(b, "configHash")],
            ["PHASE", _status(a, "phase"), _status(b, "phase")],
        ],
    )
    metrics = list(scores_a) + [key for key in scores_b if key not in scores_a]
    rows = [
        [
            key,
            score(scores_a.get(key)),
            score(scores_b.get(key)),
            delta(scores_a.get(key), scores_b.get(key)),
        ]
        for key in metrics
    ]
    table = render(["METRIC", name_a, name_b, "DELTA"], rows, right=(1, 2, 3))
    return f"{header}\n\n{table}"


def _status(ej: dict[str, Any], key: str) -> str:
    return str((ej.get("status") or {}).get(key) or "-")


def _benchmark(ej: dict[str, Any]) -> str:
    name = str(ej["spec"]["benchmarkRef"]["name"])
    generation = (ej.get("status") or {}).get("benchmarkGeneration")
    return f"{name} (generation {generation})" if generation else name

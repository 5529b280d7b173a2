"""End-to-end bodies for baseline gates and the Benchmark leaderboard, on both evaluator APIs.

One body, three rounds of concurrent EvalJobs on one Benchmark, so the jobs are shared by every
claim: two labelled baselines; gates that pass, fail and pick the latest labelled run; then a
Benchmark edit that makes the old baselines incomparable and empties the leaderboard.
"""

from __future__ import annotations

import copy
from typing import Any

from .backends import Backend
from .helpers import Cluster, wait_for
from .shared import JOB_TIMEOUT, _manifest, finished

__all__ = ["check_baseline_gates_and_leaderboard"]


def _evaljob(
    cluster: Cluster,
    backend: Backend,
    name: str,
    model: str,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> None:
    manifest = _manifest(
        "EvalJob", name, {"benchmarkRef": {"name": "bm"}, "target": backend.target(model), **spec}
    )
    if labels:
        manifest["metadata"]["labels"] = labels
    cluster.apply(manifest)


def _metric(backend: Backend) -> str:
    return "exact-match.exact-match" if backend.name == "helix" else "qa.bleu.sentence"


def _edited(spec: dict[str, Any]) -> dict[str, Any]:
    """The same Benchmark with one parameter changed (so its config hash changes)."""
    edited = copy.deepcopy(spec)
    if "config" in edited:
        edited["config"]["params"]["limit_samples"] = 10
    else:
        edited["evaluation"]["params"]["parallelism"] = 1
    return edited


def _gate(obj: dict[str, Any]) -> dict[str, Any]:
    gate: list[dict[str, Any]] = obj["status"]["gate"]
    return gate[0]


def _reason(obj: dict[str, Any], ctype: str) -> tuple[str, str]:
    cond = next(c for c in obj["status"]["conditions"] if c["type"] == ctype)
    return cond["status"], cond["reason"]


def check_baseline_gates_and_leaderboard(cluster: Cluster, backend: Backend) -> None:
    metric = _metric(backend)
    spec = backend.benchmark_spec(cluster.namespace)
    cluster.apply({**_manifest("Benchmark", "bm", {**spec, "leaderboard": {"metric": metric}})})
    cluster.wait_condition("Benchmark", "bm", "Ready", timeout=120)

    # Round 1: two baselines, labelled as the production track.
    for model in ("good", "fair"):
        _evaljob(cluster, backend, f"base-{model}", model, {"track": "prod"})
    bases = {m: finished(cluster, f"base-{m}") for m in ("good", "fair")}
    assert all(b["status"]["phase"] == "Succeeded" for b in bases.values()), bases
    score = {m: b["status"]["scores"][metric] for m, b in bases.items()}
    high, low = sorted(score, key=lambda m: -score[m])
    assert score[high] > score[low], score
    latest = max(bases.values(), key=lambda b: (b["status"]["completedAt"], b["metadata"]["name"]))

    # Round 2: a gate that passes, one that fails (margin shown), one by label selector.
    drop = {"maxDrop": 0}
    _evaljob(
        cluster,
        backend,
        "same",
        high,
        passCriteria=[{"metric": metric, "baseline": {"evalJob": f"base-{high}"}, **drop}],
    )
    _evaljob(
        cluster,
        backend,
        "worse",
        low,
        passCriteria=[{"metric": metric, "baseline": {"evalJob": f"base-{high}"}, **drop}],
    )
    _evaljob(cluster, backend, "latest", high, passCriteria=[
        {"metric": metric, "baseline": {"selector": {"matchLabels": {"track": "prod"}}},
         "maxDrop": 1000}])  # fmt: skip
    same, worse, picked = (finished(cluster, n) for n in ("same", "worse", "latest"))

    assert same["status"]["phase"] == "Succeeded", same["status"]
    assert _reason(same, "Passed") == ("True", "CriteriaPassed")
    assert _gate(same)["baseline"]["uid"] == bases[high]["metadata"]["uid"]
    assert _gate(same)["margin"] == 0

    assert worse["status"]["phase"] == "Failed", worse["status"]
    assert _reason(worse, "Passed") == ("False", "CriteriaFailed")
    gate = _gate(worse)
    assert gate["baseline"]["value"] == score[high]
    assert gate["value"] == score[low]
    assert gate["margin"] < 0
    summary = (cluster.config_map("worse-results") or _none()).data["summary.txt"]
    assert f"vs baseline {score[high]:.6g} (base-{high})" in summary, summary
    assert "margin -" in summary, summary

    assert picked["status"]["phase"] == "Succeeded", picked["status"]
    assert _gate(picked)["baseline"]["evalJob"] == latest["metadata"]["name"]

    # The leaderboard: one row per model (its latest run), best first, the gate-failed run out.
    latest_high = max(
        (bases[high], same, picked),
        key=lambda o: (o["status"]["completedAt"], o["metadata"]["name"]),
    )
    board = _leaderboard(cluster, [latest_high["metadata"]["name"], f"base-{low}"])
    assert [row["model"] for row in board] == [high, low]  # "worse" failed its gate: not on it
    assert board[0]["score"] == score[high]
    top = cluster.must_get("Benchmark", "bm")["status"]["leaderboardTop"]
    assert top.startswith(f"{high}="), top

    # Deleting a model's only run removes it from the leaderboard.
    cluster.delete("EvalJob", f"base-{low}")
    _leaderboard(cluster, [latest_high["metadata"]["name"]])

    # Round 3: the Benchmark changes; old runs no longer compare, and leave the leaderboard.
    old_hash = cluster.must_get("Benchmark", "bm")["status"]["configHash"]
    cluster.apply(
        _manifest("Benchmark", "bm", {**_edited(spec), "leaderboard": {"metric": metric}})
    )

    def new_hash() -> bool:
        return cluster.must_get("Benchmark", "bm")["status"].get("configHash") not in (
            None,
            old_hash,
        )

    wait_for(new_hash, 120, "the Benchmark's new config hash")
    _leaderboard(cluster, [])
    _evaljob(
        cluster,
        backend,
        "after-edit",
        high,
        passCriteria=[{"metric": metric, "baseline": {"evalJob": f"base-{high}"}, "maxDrop": 1000}],
    )
    _evaljob(cluster, backend, "fresh", low)
    after = finished(cluster, "after-edit")
    assert after["status"]["phase"] == "Failed", after["status"]
    assert _reason(after, "Passed") == ("False", "BaselineNotComparable")
    assert "Benchmark config" in _gate(after)["message"]
    assert finished(cluster, "fresh")["status"]["phase"] == "Succeeded"
    _leaderboard(cluster, ["fresh"])  # the gate-failed after-edit is not on it


def _leaderboard(cluster: Cluster, evaljobs: list[str]) -> list[dict[str, Any]]:
    """Wait until the board lists exactly these EvalJobs, in this order (it is debounced)."""

    def rows() -> list[dict[str, Any]] | None:
        board = cluster.must_get("Benchmark", "bm")["status"].get("leaderboard") or []
        return board if [row["evalJob"] for row in board] == evaljobs else None

    if not evaljobs:
        wait_for(lambda: rows() is not None, JOB_TIMEOUT, "an empty leaderboard")
        return []
    return wait_for(rows, JOB_TIMEOUT, f"a leaderboard of {evaljobs}")


def _none() -> Any:
    raise AssertionError("no results ConfigMap")

"""The command line: parse, connect like kubectl, run one command, print, exit 0/1/2.

Exit codes: 0 done; 1 an expected failure, printed as one `error:` line (not found,
forbidden, unreachable, results failing the SHA-256, a comparison refused); 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from .compare import render_comparison, require_comparable
from .errors import PluginError
from .kube import Kube, Target, connect
from .leaderboard import build_leaderboard, from_status, render_leaderboard
from .rerun import clone
from .results import document_scores, load_results
from .table import render, score
from .why import render_why

__all__ = ["main", "parser"]

PROG = "kubectl nemo-eval"


def parser() -> argparse.ArgumentParser:
    """kubectl's connection flags are accepted before or after the command name."""
    connection = _connection_flags(default=None)
    late = _connection_flags(default=argparse.SUPPRESS)
    top = argparse.ArgumentParser(
        prog=PROG,
        parents=[connection],
        description="Read, compare, rerun and explain NeMo Evaluator EvalJobs.",
        epilog="Exit status: 0 success, 1 failure (one `error:` line), 2 usage error.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    results = commands.add_parser(
        "results", parents=[late], help="reassembled, SHA-256-checked results of an EvalJob"
    )
    results.add_argument("evaljob")
    shown = results.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="the full results document")
    shown.add_argument("--summary", action="store_true", help="the operator's summary.txt")
    compare = commands.add_parser("compare", parents=[late], help="two EvalJobs' scores, B - A")
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument("--force", action="store_true", help="compare different configs too")
    rerun = commands.add_parser("rerun", parents=[late], help="a new EvalJob with the same spec")
    rerun.add_argument("evaljob")
    rerun.add_argument("--name", help="the new EvalJob's name (default: <name>-rerun-<random>)")
    why = commands.add_parser("why", parents=[late], help="phase, conditions and events")
    why.add_argument("evaljob")
    board = commands.add_parser("leaderboard", parents=[late], help="a Benchmark's best models")
    board.add_argument("benchmark")
    board.add_argument("--metric", help="rank on this metric (default: the headline metric)")
    board.add_argument("--top", type=int, default=10, help="at most this many rows")
    board.add_argument("--lowest-first", action="store_true", help="for losses and errors")
    return top


def _connection_flags(default: str | None) -> argparse.ArgumentParser:
    """After the command name the flags default to SUPPRESS, so they keep earlier values."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--kubeconfig", default=default, help="the kubeconfig file to use")
    flags.add_argument("--context", default=default, help="the kubeconfig context to use")
    flags.add_argument(
        "-n", "--namespace", default=default, help="the namespace (default: the context's)"
    )
    return flags


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        kube = connect(Target(args.kubeconfig, args.context, args.namespace))
        output = _run(kube, args)
    except PluginError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if output:
        print(output)
    return 0


def _run(kube: Kube, args: argparse.Namespace) -> str:
    command: str = args.command
    if command == "results":
        return _results(kube, args.evaljob, args.json, args.summary)
    if command == "compare":
        return _compare(kube, args.a, args.b, args.force)
    if command == "rerun":
        created = kube.create_evaljob(clone(kube.evaljob(args.evaljob), args.name))
        return str(created["metadata"]["name"])
    if command == "why":
        evaljob = kube.evaljob(args.evaljob)
        events = kube.events("EvalJob", args.evaljob)
        return render_why(evaljob, events, datetime.now(UTC))
    return _leaderboard(kube, args.benchmark, args.metric, args.top, args.lowest_first)


def _results(kube: Kube, name: str, as_json: bool, summary: bool) -> str:
    evaljob = kube.evaljob(name)
    results = load_results(evaljob, kube.config_map_data)
    if as_json:
        return results.text
    if summary:
        return results.summary.rstrip("\n")
    status = evaljob["status"]
    scores = document_scores(results.document, status.get("evaluatorAPI"))
    gate = {g["metric"]: "PASS" if g.get("passed") else "FAIL" for g in status.get("gate") or []}
    head = [
        f"EvalJob {kube.namespace}/{name}: {status.get('phase')}, model {status.get('model')},"
        f" NeMo job {status.get('jobId')}",
        f"Results: {len(results.text)} bytes in {len(results.config_maps)} ConfigMap(s),"
        f" SHA-256 {results.sha256[:12]}... verified",
        "",
    ]
    rows = [[key, score(value), gate.get(key, "")] for key, value in scores.items()]
    return "\n".join(head) + render(["METRIC", "VALUE", "GATE"], rows, right=(1,))


def _compare(kube: Kube, name_a: str, name_b: str, force: bool) -> str:
    a, b = kube.evaljob(name_a), kube.evaljob(name_b)
    warning = require_comparable(a, b, force)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    scores = [
        document_scores(
            load_results(ej, kube.config_map_data).document, ej["status"].get("evaluatorAPI")
        )
        for ej in (a, b)
    ]
    return render_comparison(a, b, scores[0], scores[1])


def _leaderboard(kube: Kube, name: str, metric: str | None, top: int, lowest: bool) -> str:
    benchmark = kube.benchmark(name)
    kept = from_status(benchmark) if metric is None else None
    if kept is not None:
        shown_metric, entries = kept
    else:
        shown_metric, entries = build_leaderboard(benchmark, kube.evaljobs(), metric, top, lowest)
    return render_leaderboard(name, shown_metric, entries[:top], datetime.now(UTC))

"""``make bench``: the operator vs. a plain SDK script, for N EvalJobs each, on one machine.

For each N: a fresh namespace and a fresh operator process apply N EvalJobs against the NeMo
emulator and are timed and counted; then the emulator is reset and the SDK floor does the same
N jobs. One control plane and one emulator serve the whole run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from tests.support.controlplane import REPO_ROOT, ControlPlaneError

from .cases import Params, SizeFigures, active_seconds, run_floor_case, run_operator_case, say
from .report import Extras, machine, render_extras, render_table, write_results
from .scenarios import run_long_jobs, run_restart_active, run_restart_finished
from .stack import control_plane_with_crds, emulator, snapshot_operator_source

__all__ = ["main", "parse_args"]

# Short enough that N=1000 fits the 15-minute budget, long enough that jobs overlap.
DEFAULT_PHASES = "created=1,pending=2,running=6"


class _StoppedError(Exception):
    """SIGTERM arrived: unwind through every ``finally`` so all processes are stopped."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _StoppedError(signal.Signals(signum).name)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 100,500,1000, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def _phases(text: str) -> str:
    try:
        active_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--sizes", type=_sizes, default=[100, 500, 1000, 5000], help="default: 100,500,1000,5000")
    add("--poll-interval", type=float, default=2.0, help="seconds (default 2)")
    add("--phases", type=_phases, default=DEFAULT_PHASES, help=f"emulator job phase seconds "
        f"(default {DEFAULT_PHASES})")  # fmt: skip
    add("--timeout", type=float, default=600.0, help="seconds each run may take to reach all "
        "results (default 600)")  # fmt: skip
    add("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="directory for the "
        ".md and .json results (default bench/results)")  # fmt: skip
    add("--workers", type=int, default=8, help="parallel creates (default 8)")
    add("--page-size", type=int, default=100, help="floor list page size (default 100, like "
        "the operator)")  # fmt: skip
    add("--settle", type=float, default=None, help="seconds to keep counting after the last "
        "result (default 2 poll intervals)")  # fmt: skip
    add("--restart-active", type=int, default=1000, help="N for the restart with active "
        "EvalJobs (default 1000; 0 skips it)")  # fmt: skip
    add("--long-jobs", type=int, default=5, help="EvalJobs with ten-minute jobs (default 5; "
        "0 skips them)")  # fmt: skip
    add("--no-restart-finished", action="store_true", help="skip the restart on the largest "
        "N's finished EvalJobs")  # fmt: skip
    add("--keep-logs", action="store_true", help="keep the process logs")
    return parser.parse_args(argv)


def _params(args: argparse.Namespace) -> Params:
    return Params(
        sizes=args.sizes,
        poll_interval=args.poll_interval,
        phases=args.phases,
        timeout=args.timeout,
        workers=args.workers,
        page_size=args.page_size,
        settle=args.settle if args.settle is not None else 2 * args.poll_interval,
        restart_active=args.restart_active,
        long_jobs=args.long_jobs,
        restart_finished=not args.no_restart_finished,
    )


class _Run:
    """What a bench run produced so far, so a failure at one N still reports the others."""

    def __init__(self) -> None:
        self.figures: list[SizeFigures] = []
        self.extras = Extras()
        self.info: dict[str, Any] = {}
        self.stage = ""


def _run_all(params: Params, log_dir: Path, run: _Run) -> None:
    operator_src = snapshot_operator_source(log_dir)
    with control_plane_with_crds() as (plane, _kubectl):
        say(f"control plane {plane.version} ready in {plane.startup_seconds:.1f}s")
        run.info = machine(plane.version)
        with emulator(params.phases, log_dir / "emulator.log") as emu:
            for n in params.sizes:
                run.stage = f"N={n}"
                say(f"N={n}: operator")
                operator = run_operator_case(plane, emu, n, params, log_dir, operator_src)
                if params.restart_finished and n == max(params.sizes):
                    run.stage = f"restart with {n} finished EvalJobs"
                    say(run.stage)
                    restart = run_restart_finished(
                        plane, emu, f"bench-n{n}", n, params, log_dir, operator_src
                    )
                    run.extras.restarts.append(restart)
                    say(f"  {sum(restart.nemo_requests.values())} NeMo requests "
                        f"({restart.probe_requests} the start-up probe), "
                        f"{restart.operator_writes} writes")  # fmt: skip
                run.stage = f"N={n}"
                say(f"N={n}: floor (nemo_microservices SDK)")
                floor = run_floor_case(emu, n, params)
                size = SizeFigures(n, operator, floor)
                say(f"N={n}: results after {operator.results_s:.1f}s (floor "
                    f"{floor.results_s:.1f}s, ratio {size.ratios['results']:.2f})")  # fmt: skip
                run.figures.append(size)
            if params.restart_active:
                run.stage = f"restart with {params.restart_active} active EvalJobs"
                say(run.stage)
                active = run_restart_active(
                    plane, emu, params.restart_active, params, log_dir, operator_src,
                    params.page_size,
                )  # fmt: skip
                run.extras.restarts.append(active)
                say(f"  first interval: {active.first_interval_requests} NeMo requests "
                    f"(target {active.bound}), {active.operator_writes} writes")  # fmt: skip
            if params.long_jobs:
                run.stage = f"{params.long_jobs} ten-minute jobs"
                say(run.stage)
                run.extras.long = run_long_jobs(
                    plane, emu, params.long_jobs, params, log_dir, operator_src
                )
                say(f"  {run.extras.long.writes_per_evaljob:.1f} writes per EvalJob")


def _report(run: _Run, params: Params, out: Path, wall: float, failure: str | None) -> None:
    """Print the table and write the files for every N that finished (none: nothing)."""
    if not run.figures or not run.info:
        return
    print()
    print(render_table(run.figures))
    print(render_extras(run.extras))
    md, js = write_results(out, run.figures, params, run.info, wall, failure, run.extras)
    say(f"wrote {md} and {js.name} in {wall:.0f}s" + (" (incomplete)" if failure else ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Run every size, print the table, write the results files; 1 on any failure."""
    args = parse_args(argv)
    params = _params(args)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    log_dir = Path(tempfile.mkdtemp(prefix="nemo-bench-"))
    began = time.monotonic()
    run = _Run()
    failure: str | None = None
    try:
        _run_all(params, log_dir, run)
    except (ControlPlaneError, RuntimeError, TimeoutError, OSError) as err:
        failure = f"{run.stage or 'start-up'} failed: {err}"
        say(failure)
    except (KeyboardInterrupt, _StoppedError):
        failure = "interrupted"
        say("interrupted; every process was stopped")
    finally:
        if failure != "interrupted":
            _report(run, params, args.out, time.monotonic() - began, failure)
        if failure is None and not args.keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            say(f"logs kept in {log_dir}")
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())

"""`nemo-evaluator-emulator` (or `python -m nemo_evaluator_emulator`): serve with uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .settings import EmulatorSettings, PhaseSeconds, parse_phase_seconds

__all__ = ["build_settings", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command line (every behaviour switch is also settable at run time)."""
    p = argparse.ArgumentParser(prog="nemo-evaluator-emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7331)
    p.add_argument("--state-dir", type=Path, help="persist configs, targets, jobs and results here")
    p.add_argument(
        "--phase-seconds", default="", help="e.g. created=0.5,pending=1,running=2,cancelling=0.5"
    )
    p.add_argument("--unknown-ref-status", type=int, choices=(400, 404, 422), default=404)
    p.add_argument(
        "--results-before-completion", choices=("404", "400", "409", "empty"), default="404"
    )
    p.add_argument("--cancel-terminal", choices=("409", "400", "noop"), default="409")
    p.add_argument("--delete-running", choices=("allow", "refuse"), default="allow")
    p.add_argument(
        "--academic-types",
        choices=("accept", "reject"),
        default="accept",
        help="reject: refuse configs of academic types (mmlu, gsm8k, ...), custom ones only",
    )
    p.add_argument("--job-delete-status", type=int, choices=(200, 204), default=204)
    p.add_argument("--results-padding-bytes", type=int, default=0)
    p.add_argument("--seed", type=int, help="seed for probabilistic faults")
    p.add_argument("--max-recorded-requests", type=int, default=10000)
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-access-log", action="store_true")
    return p


def build_settings(args: argparse.Namespace) -> EmulatorSettings:
    """Settings from parsed arguments (raises ValueError on bad phase syntax)."""
    phases = PhaseSeconds().merged(parse_phase_seconds(args.phase_seconds))
    return EmulatorSettings(
        phase_seconds=phases,
        unknown_ref_status=args.unknown_ref_status,
        results_before_completion=args.results_before_completion,
        cancel_terminal=args.cancel_terminal,
        delete_running=args.delete_running,
        academic_types=args.academic_types,
        job_delete_status=args.job_delete_status,
        results_padding_bytes=args.results_padding_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT/SIGTERM."""
    args = parser().parse_args(argv)
    try:
        settings = build_settings(args)
    except ValueError as exc:
        parser().error(str(exc))
    import uvicorn  # imported late so --help stays instant

    from .app import create_app
    from .core import Emulator

    emulator = Emulator(settings, args.state_dir, args.seed, args.max_recorded_requests)
    options: dict[str, Any] = {"log_level": args.log_level, "access_log": not args.no_access_log}
    uvicorn.run(
        create_app(emulator),
        host=args.host,
        port=args.port,
        http="h11",
        lifespan="off",
        timeout_graceful_shutdown=2,
        **options,
    )


if __name__ == "__main__":
    main()

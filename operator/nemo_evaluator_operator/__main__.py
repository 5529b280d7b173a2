"""`nemo-evaluator-operator` / `python -m nemo_evaluator_operator`: run kopf with our handlers."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import kopf

from .settings import OperatorSettings, SettingsError

__all__ = ["main"]

RECURSION_LIMIT = 25_000


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nemo-evaluator-operator", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--liveness", default=None, help="kopf liveness endpoint URL (overrides env)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Validate settings first (a one-line error beats a crash loop), then run the operator."""
    args = _args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as err:
        sys.exit(f"nemo-evaluator-operator: {err}")
    from . import handlers  # noqa: F401  (registers the handlers with kopf)

    # kopf parses watch events with the json module, which recurses once per nesting level;
    # the API server accepts objects nested up to 10000 levels, and one such object must not
    # crash the whole operator at the default limit of 1000.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))

    asyncio.run(
        kopf.operator(
            standalone=True,
            clusterwide=not settings.watch_namespaces,
            namespaces=settings.watch_namespaces,
            liveness_endpoint=args.liveness or settings.liveness_endpoint,
            memo=kopf.Memo(settings=settings),
        )
    )


if __name__ == "__main__":
    main()

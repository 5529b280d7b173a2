"""`nemo-fault-proxy --upstream URL` (or `python -m fault_proxy`): serve the proxy with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import httpx

__all__ = ["main", "parser"]


def _upstream(value: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {value!r} ({exc})") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(f"need an http(s)://host[:port][/path] URL: {value!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="nemo-fault-proxy", description=__doc__)
    p.add_argument("--upstream", required=True, type=_upstream, help="base URL to forward to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18090)
    p.add_argument("--seed", type=int, help="seed for probabilistic faults (same seed, same run)")
    p.add_argument(
        "--log-bodies", action="store_true", help="keep request bodies in the request log"
    )
    p.add_argument("--max-requests", type=int, default=10_000, help="size of the request log")
    p.add_argument(
        "--upstream-timeout", type=float, default=300.0, help="seconds for one upstream request"
    )
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-access-log", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT/SIGTERM."""
    args = parser().parse_args(argv)
    import uvicorn  # imported late so --help stays quick

    from .app import create_app

    app = create_app(
        args.upstream,
        seed=args.seed,
        log_bodies=args.log_bodies,
        max_requests=args.max_requests,
        upstream_timeout=args.upstream_timeout,
    )
    options: dict[str, Any] = {"log_level": args.log_level, "access_log": not args.no_access_log}
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        http="h11",  # dropping a connection reaches for the h11 cycle's transport
        lifespan="on",
        proxy_headers=False,
        server_header=False,  # upstream's own server and date headers pass through instead
        date_header=False,
        timeout_graceful_shutdown=2,
        **options,
    )


if __name__ == "__main__":
    main()

"""`openai-table-server --table answers.json`: serve deterministic answers with uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="openai-table-server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18999)
    parser.add_argument("--table", type=Path, help="JSON answer table (default: empty)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    import uvicorn

    from .app import ModelServer, create_app
    from .table import AnswerTable

    table = AnswerTable.load(args.table) if args.table else AnswerTable()
    app = create_app(ModelServer(table))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()

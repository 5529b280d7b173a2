"""Entry point of the `kubectl-nemo_eval` script (and `python -m kubectl_nemo_eval`)."""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())

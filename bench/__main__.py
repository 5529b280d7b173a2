"""Entry point: ``python -m bench`` (what ``make bench`` runs)."""

import sys

from bench.run import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())

"""Aligned plain-text tables and the small formats inside them (ages, scores, deltas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["age", "cut", "delta", "render", "score"]

GAP = "   "  # kubectl's column gap


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; columns listed in `right` align right (numbers)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(GAP.join(cells).rstrip())
    return "\n".join(lines)


def score(value: float | None) -> str:
    """Six significant digits, as the operator's summary.txt prints them; `-` when missing."""
    return "-" if value is None else f"{value:.6g}"


def delta(before: float | None, after: float | None) -> str:
    """`after - before` with a sign (`0` when equal); `-` when either side is missing."""
    if before is None or after is None:
        return "-"
    change = round(after - before, 9)
    return "0" if change == 0 else f"{change:+.6g}"


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """Short ages like kubectl's: 45s, 12m, 5h, 3d; `<unknown>` without a timestamp."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = max(int(((now or datetime.now(UTC)) - then).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def cut(text: str | None, limit: int = 100) -> str:
    """One line of at most `limit` characters, so a long message does not wrap the table."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."

"""The one error the plugin reports: a sentence for the terminal, never a traceback."""

from __future__ import annotations

__all__ = ["PluginError"]


class PluginError(Exception):
    """An expected failure (not found, forbidden, unreachable, bad results) for one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

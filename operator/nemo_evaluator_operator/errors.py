"""Domain errors shared by the layers (a leaf module: it imports nothing of the package)."""

from __future__ import annotations

__all__ = ["KubernetesError"]


class KubernetesError(Exception):
    """A Kubernetes API call failed; `status` is the HTTP status, or None if none came back.

    The Kubernetes layer raises this instead of client exceptions, so the decision logic can
    report it as a condition without importing the client.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def transient(self) -> bool:
        """Worth retrying soon: no answer, conflicts, throttling, server errors."""
        return self.status is None or self.status in (409, 429) or self.status >= 500

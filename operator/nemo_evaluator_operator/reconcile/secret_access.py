"""Whether a Secret lets an EvalJob use it: the Secret's owner opts in, not the EvalJob's author.

Kubernetes RBAC cannot narrow the operator's `get secrets` to some Secrets by label or
annotation, so the operator can read every Secret it watches. What it *uses* is narrowed here:
only a Secret whose `evaluator.nemo.dev/allowed-evaljobs` annotation names the EvalJob (by name
or glob, in the Secret's own namespace) is ever sent to an evaluator.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..constants import ALLOWED_EVALJOBS_ANNOTATION

__all__ = ["allowed_patterns", "allows", "not_allowed_message"]


def allowed_patterns(annotation: str | None) -> list[str]:
    """The annotation's comma-separated names or globs (`*` for every EvalJob)."""
    return [part.strip() for part in (annotation or "").split(",") if part.strip()]


def allows(annotation: str | None, evaljob: str) -> bool:
    """The annotation names this EvalJob; no annotation (or an empty one) allows none."""
    return any(fnmatchcase(evaljob, pattern) for pattern in allowed_patterns(annotation))


def not_allowed_message(namespace: str, secret: str, evaljob: str, annotation: str | None) -> str:
    """Why the Secret is not used, and the one command that allows it."""
    patterns = allowed_patterns(annotation)
    why = (
        f"its {ALLOWED_EVALJOBS_ANNOTATION} annotation ({', '.join(patterns)}) does not name it"
        if patterns
        else f"it has no {ALLOWED_EVALJOBS_ANNOTATION} annotation"
    )
    listed = ",".join([*patterns, evaljob])
    return (
        f"Secret {namespace}/{secret} does not allow EvalJob {evaljob} to use it: {why}. "
        f"Whoever owns the Secret allows it with: kubectl annotate secret {secret} -n {namespace} "
        f"--overwrite {ALLOWED_EVALJOBS_ANNOTATION}={listed} "
        "(comma-separated EvalJob names or globs; * allows every EvalJob in the namespace)"
    )

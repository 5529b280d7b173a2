"""A new EvalJob with the spec of an old one: specs are immutable, so a rerun is a copy.

What is copied is what the author wrote (spec, labels, annotations); what the API server, the
operator or a GitOps tool put on the object (uid, resourceVersion, status, finalizers, owner
references, tracking labels and annotations) is left behind, so the copy is a new, unowned
object that the operator submits as a fresh NeMo job.
"""

from __future__ import annotations

import copy
from typing import Any

from nemo_evaluator_operator.constants import GROUP, MARKER_ANNOTATION

__all__ = ["RERUN_OF_ANNOTATION", "clone"]

RERUN_OF_ANNOTATION = f"{GROUP}/rerun-of"
_DROPPED_ANNOTATIONS = (
    MARKER_ANNOTATION,  # the operator's submission marker: the copy has not been submitted
    "kubectl.kubernetes.io/last-applied-configuration",
    "argocd.argoproj.io/tracking-id",  # else Argo CD would claim (and prune) the copy
)
_DROPPED_PREFIXES = (
    "kopf.zalando.org/",
    "kustomize.toolkit.fluxcd.io/",  # Flux's ownership labels
    "app.kubernetes.io/instance",  # Argo CD's label tracking
)


def clone(evaljob: dict[str, Any], new_name: str | None) -> dict[str, Any]:
    """The body to create; without `new_name` the API server picks `<name>-rerun-<random>`."""
    meta = evaljob["metadata"]
    spec = copy.deepcopy(evaljob["spec"])
    spec.pop("cancel", None)  # rerunning a cancelled EvalJob means running it
    annotations = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if key not in _DROPPED_ANNOTATIONS and not key.startswith(_DROPPED_PREFIXES)
    }
    annotations[RERUN_OF_ANNOTATION] = meta["name"]
    labels = {
        key: value
        for key, value in (meta.get("labels") or {}).items()
        if not key.startswith(_DROPPED_PREFIXES)
    }
    new_meta: dict[str, Any] = {"annotations": annotations}
    if labels:
        new_meta["labels"] = labels
    if new_name:
        new_meta["name"] = new_name
    else:
        new_meta["generateName"] = f"{meta['name'][:200]}-rerun-"
    return {
        "apiVersion": evaljob["apiVersion"],
        "kind": evaljob["kind"],
        "metadata": new_meta,
        "spec": spec,
    }

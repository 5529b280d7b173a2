"""Reassemble an EvalJob's results from its ConfigMaps and prove them with the SHA-256.

The operator writes `<name>-results` (results.json, summary.txt, sha256) or, for large
results, an index (summary.txt, sha256, parts) plus `<name>-results-<n>` parts holding
`results.json.part`. `status.resultsRef` names them all and carries the SHA-256 and size of
the whole text; the status is the reference, since a ConfigMap is easy to edit by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nemo_evaluator_operator.evaluator.helix.definition import scores_from
from nemo_evaluator_operator.evaluator.v1.results import flatten_scores

from .errors import PluginError

__all__ = ["Results", "document_scores", "load_results"]

ReadConfigMap = Callable[[str], dict[str, str] | None]


@dataclass(frozen=True)
class Results:
    """The verified results text of one EvalJob, and where it came from."""

    text: str
    sha256: str
    config_maps: list[str]
    summary: str

    @property
    def document(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.text)
        return loaded


def load_results(evaljob: dict[str, Any], read: ReadConfigMap) -> Results:
    """Read the index and every part, join them, and check size and SHA-256 against status."""
    name = evaljob["metadata"]["name"]
    status = evaljob.get("status") or {}
    ref = status.get("resultsRef")
    if not ref:
        phase = status.get("phase") or "no phase yet"
        raise PluginError(f'EvalJob "{name}" has no results yet (phase: {phase})')
    index = _read(read, ref["configMap"], name)
    parts = list(ref.get("parts") or [])
    if parts:
        text = "".join(_part(read, part, name) for part in parts)
    else:
        text = _key(index, "results.json", ref["configMap"])
    _verify(name, text, ref)
    return Results(text, ref["sha256"], [ref["configMap"], *parts], index.get("summary.txt", ""))


def _read(read: ReadConfigMap, config_map: str, evaljob: str) -> dict[str, str]:
    data = read(config_map)
    if data is None:
        raise PluginError(f'results ConfigMap "{config_map}" of EvalJob "{evaljob}" is missing')
    return data


def _part(read: ReadConfigMap, config_map: str, evaljob: str) -> str:
    return _key(_read(read, config_map, evaljob), "results.json.part", config_map)


def _key(data: dict[str, str], key: str, config_map: str) -> str:
    if key not in data:
        raise PluginError(f'results ConfigMap "{config_map}" has no key {key}')
    return data[key]


def _verify(evaljob: str, text: str, ref: dict[str, Any]) -> None:
    actual = hashlib.sha256(text.encode()).hexdigest()
    if actual == ref["sha256"]:
        return
    size = len(text.encode())
    raise PluginError(
        f'results of EvalJob "{evaljob}" fail the SHA-256 check: status.resultsRef has '
        f"{ref['sha256'][:12]}... ({ref.get('sizeBytes')} bytes), the ConfigMaps give "
        f"{actual[:12]}... ({size} bytes); they were changed after the operator wrote them"
    )


def document_scores(document: dict[str, Any], api: str | None) -> dict[str, float]:
    """Every score in the document, named as the operator names them in status.scores."""
    if api == "helix":
        return scores_from(document)[0]
    return flatten_scores(document)

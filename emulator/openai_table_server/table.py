"""The answer table: which model says what to which prompt, and how a prompt misbehaves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Answer", "AnswerTable", "Rule"]

DEFAULT_ANSWER = "I do not know."


@dataclass(frozen=True)
class Answer:
    """What the model does for one prompt: say `text`, after `delay` seconds, or fail."""

    text: str
    delay: float = 0.0
    status: int | None = None  # an HTTP error status instead of an answer


@dataclass
class Rule:
    """A run-time override: prompts containing `contains` (for `model`, or any) misbehave."""

    contains: str = ""
    model: str | None = None
    delay: float = 0.0
    status: int | None = None
    times: int | None = None  # None: forever; else the number of requests it still applies to

    def matches(self, model: str, prompt: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return (self.model is None or self.model == model) and self.contains in prompt


@dataclass
class AnswerTable:
    """`models[model_id][prompt] -> Answer`, with a default answer per model."""

    models: dict[str, dict[str, Answer]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerTable:
        """`{"model": {"answers": {prompt: text | {text, delay, status}}, "default": text}}`."""
        table = cls()
        for model, spec in data.items():
            if not isinstance(spec, dict):
                raise ValueError(f"model {model!r}: expected an object")
            answers = spec.get("answers") or {}
            table.models[model] = {
                prompt.strip(): _answer(value) for prompt, value in answers.items()
            }
            table.defaults[model] = str(spec.get("default", DEFAULT_ANSWER))
        return table

    @classmethod
    def load(cls, path: Path) -> AnswerTable:
        return cls.from_json(json.loads(path.read_text()))

    def answer(self, model: str, prompt: str) -> Answer | None:
        """The answer for `prompt`; None when the model is not in the table."""
        if model not in self.models:
            return None
        found = self.models[model].get(prompt.strip())
        return found or Answer(self.defaults.get(model, DEFAULT_ANSWER))


def _answer(value: Any) -> Answer:
    if isinstance(value, str):
        return Answer(value)
    if isinstance(value, dict):
        status = value.get("status")
        return Answer(
            text=str(value.get("text", "")),
            delay=float(value.get("delay", 0.0)),
            status=None if status is None else int(status),
        )
    raise ValueError(f"an answer must be a string or an object, not {type(value).__name__}")

"""Request bodies shared by the emulator tests (shapes from nemo-evaluator-api.md §8)."""

from __future__ import annotations

from typing import Any

__all__ = ["custom_config", "model_target"]


def custom_config(
    name: str = "qa-bleu", namespace: str = "team-a", limit: int | None = 50
) -> dict[str, Any]:
    """A custom config with two tasks and three metrics."""
    params: dict[str, Any] = {"parallelism": 8}
    if limit is not None:
        params["limit_samples"] = limit
    dataset = {"files_url": "hf://datasets/default/sample-basic-test/testing/testing.jsonl"}
    return {
        "type": "custom",
        "name": name,
        "namespace": namespace,
        "params": params,
        "tasks": {
            "qa": {
                "type": "completion",
                "params": {"template": {"prompt": "{{prompt}}", "max_tokens": 200}},
                "dataset": dataset,
                "metrics": {
                    "bleu": {"type": "bleu", "params": {"references": ["{{ideal_response}}"]}},
                    "exact": {
                        "type": "string-check",
                        "params": {
                            "check": [
                                "{{ideal_response | trim}}",
                                "equals",
                                "{{output_text | trim}}",
                            ]
                        },
                    },
                },
            },
            "judge": {
                "type": "chat-completion",
                "dataset": dataset,
                "metrics": {
                    "llm-judge": {
                        "type": "llm-judge",
                        "params": {"scores": {"similarity": {"type": "int"}}},
                    }
                },
            },
        },
    }


def model_target(
    name: str = "llama-8b", namespace: str = "team-a", model_id: str = "meta/llama-3.1-8b-instruct"
) -> dict[str, Any]:
    """A model target with an API endpoint and a key."""
    endpoint = {
        "url": "http://nim:8000/v1/chat/completions",
        "model_id": model_id,
        "format": "openai",
        "api_key": "sk-test-123",
    }
    return {
        "type": "model",
        "name": name,
        "namespace": namespace,
        "model": {"api_endpoint": endpoint},
    }

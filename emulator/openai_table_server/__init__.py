"""A deterministic OpenAI-compatible model server for tests and the demo.

Answers come from a table per model id, so the scores an evaluator computes from them are
known in advance. Prompts can be made slow or failing, and every request is logged.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"

"""A NeMo Evaluator v1 API emulator: a real HTTP server for tests and the local stack."""

__all__ = ["__version__"]

__version__ = "0.1.0"

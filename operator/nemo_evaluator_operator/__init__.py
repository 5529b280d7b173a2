"""Kubernetes operator that makes NVIDIA NeMo Evaluator evaluations declarative."""

__all__ = ["__version__"]

__version__ = "0.1.0"

"""Tests of the NeMo Evaluator client, its models and errors."""

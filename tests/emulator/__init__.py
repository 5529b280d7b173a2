"""Tests of the NeMo Evaluator emulator, run as a separate process and driven over HTTP."""

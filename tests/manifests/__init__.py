"""Tests that keep the CRDs, the pydantic models and the sample manifests consistent."""

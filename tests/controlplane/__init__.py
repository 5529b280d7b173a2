"""Proofs that the test control plane is a real Kubernetes API server, and tests of its harness."""

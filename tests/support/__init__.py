"""Test support code: the local Kubernetes control plane and other helpers shared by tests."""

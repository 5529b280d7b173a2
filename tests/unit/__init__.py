"""Unit tests: no cluster, no network."""

"""The test suite; shared fixtures live in tests/conftest.py."""

"""Fixtures: the real NeMo Helix and the table model server, once per test session.

Why session scope: Helix takes 20-50 s to start, so every test that needs it shares one
server (tests use their own workspaces and job names). When Helix is not built or does not
start, the fixture *fails* the tests (never skips). Registered by ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from openai_table_server.testing import ModelServerError, RunningModelServer, run_model_server
from tests.support.helix import HelixServer, HelixStartError, demo_table

__all__ = ["helix", "model_server", "pytest_terminal_summary"]

_SUMMARY = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat at the end which Helix served the run and how long it took to start."""
    summary = terminalreporter.config.stash.get(_SUMMARY, None)
    if summary:
        terminalreporter.write_line(summary)


def _announce(config: pytest.Config, text: str) -> None:
    """Write a line to the terminal from inside a fixture, past output capturing."""
    config.stash[_SUMMARY] = text
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    disabled = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with disabled:
        reporter.write("\n")  # progress dots may precede us on the current line
        reporter.write_line(text)


@pytest.fixture(scope="session")
def helix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HelixServer]:
    """A started NeMo Helix on a free port; stopped at the end of the session."""
    server = HelixServer(tmp_path_factory.mktemp("helix"))
    try:
        server.start()
    except HelixStartError as exc:
        pytest.fail(f"helix: {exc}", pytrace=False)
    _announce(
        request.config,
        f"helix: NeMo Helix {server.version} at {server.base_url}, "
        f"started in {server.startup_seconds:.1f}s (run dir {server.run_dir})",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningModelServer]:
    """The table model server with the demo table (models good, fair, poor)."""
    log = tmp_path_factory.mktemp("model-server") / "server.log"
    try:
        with run_model_server(demo_table(), log_path=log) as server:
            yield server
    except ModelServerError as exc:
        pytest.fail(f"model server: {exc}", pytrace=False)

"""Fixtures: one test upstream (a thread) and one proxy process in front of it, reset per test.

Why one proxy process: starting it costs about a second, and `POST /_proxy/reset` restores its
start state (no rules, no outage, empty log, RNG at the seed), so tests stay independent. Tests
that need other flags start a private one with `run_fault_proxy`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fault_proxy.control import FaultProxyControl
from fault_proxy.testing import RunningFaultProxy, run_fault_proxy

from .support import SEED, ThreadUpstream

__all__ = ["client", "control", "proxy", "proxy_process", "upstream"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadUpstream]:
    server = ThreadUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy_process(
    upstream: ThreadUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFaultProxy]:
    log_path = Path(tmp_path_factory.mktemp("fault-proxy")) / "proxy.log"
    with run_fault_proxy(upstream.base_url, seed=SEED, log_path=log_path) as proxy:
        yield proxy


@pytest.fixture
def proxy(proxy_process: RunningFaultProxy, upstream: ThreadUpstream) -> RunningFaultProxy:
    proxy_process.control.reset()
    upstream.clear()
    return proxy_process


@pytest.fixture
def control(proxy: RunningFaultProxy) -> FaultProxyControl:
    return proxy.control


@pytest.fixture
def client(proxy: RunningFaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.base_url, timeout=10, trust_env=False) as http:
        yield http

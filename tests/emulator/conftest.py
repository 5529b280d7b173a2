"""Fixtures: one emulator process for the module's tests, reset before each test.

Why one process: starting it costs ~1 s, and `reset()` restores the startup state (settings,
clock, faults, request log, data), so tests stay independent. Tests that need their own flags
or a restart start a private process with `run_emulator`.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from nemo_microservices import NeMoMicroservices

from nemo_evaluator_emulator.control import EmulatorControl
from nemo_evaluator_emulator.testing import RunningEmulator, run_emulator

__all__ = ["control", "emulator", "emulator_process", "http", "sdk"]

FAST_PHASES = "created=0.1,pending=0.1,running=0.4,cancelling=0.1"


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[RunningEmulator]:
    with run_emulator("--seed", "7", "--no-access-log", phase_seconds=FAST_PHASES) as emu:
        yield emu


@pytest.fixture
def emulator(emulator_process: RunningEmulator) -> RunningEmulator:
    emulator_process.control.reset()
    return emulator_process


@pytest.fixture
def control(emulator: RunningEmulator) -> EmulatorControl:
    return emulator.control


@pytest.fixture
def sdk(emulator: RunningEmulator) -> Iterator[NeMoMicroservices]:
    client = NeMoMicroservices(
        base_url=emulator.base_url, _strict_response_validation=True, max_retries=0, timeout=10
    )
    yield client
    client.close()


@pytest.fixture
def http(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, timeout=10) as client:
        yield client

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bria_dagster.emulator import EmulatorConfig, EmulatorServer

from .helpers import AUTH, TEST_OPERATIONS

FAST: dict[str, Any] = {
    "latency": {"*": 0.0},
    "seed": 7,
    "webhook_retry_delays_s": (0.05, 0.05),
    "output_megapixels": 0.01,
}

StartEmulator = Callable[..., EmulatorServer]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Start emulators with the test operations (config overrides as keywords); all stop after."""
    servers: list[EmulatorServer] = []

    def start(**overrides: Any) -> EmulatorServer:
        config = EmulatorConfig.model_validate({**FAST, **overrides})
        server = EmulatorServer(config, operations=TEST_OPERATIONS, route_providers=[])
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> EmulatorServer:
    """An emulator with no latency."""
    return start_emulator()


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """An httpx client on the emulator, with the test token."""
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=10) as c:
        yield c

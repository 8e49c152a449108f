"""End-to-end fixtures: the project's emulator with every operation, on a free loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient
from bria_dagster.emulator import EmulatorConfig, EmulatorServer

FAST_CLIENT: dict[str, Any] = {
    "rate_limit_backend": "memory",
    "plan": "pro",
    "poll_first_factor": 0.02,
    "poll_interval_s": 0.05,
    "poll_max_interval_s": 0.2,
    "retry_base_delay_s": 0.01,
    "retry_max_delay_s": 0.5,
}
"""Client settings for a fast emulator: early, frequent polls and short backoffs."""

EMULATOR = EmulatorConfig(output_megapixels=0.03, latency={"*": "fixed:0.1"}, seed=7)


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator of these tests (the fixtures are the plugin's, see tests/conftest.py)."""
    return EMULATOR


@pytest.fixture
def token() -> str:
    return f"e2e-{uuid.uuid4().hex}"


@pytest.fixture
def bria(emulator: EmulatorServer, token: str) -> Iterator[BriaClient]:
    with BriaClient(api_token=token, base_url=emulator.base_url, **FAST_CLIENT) as client:
        yield client


@pytest.fixture
async def abria(emulator: EmulatorServer, token: str) -> Any:
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **FAST_CLIENT) as c:
        yield c

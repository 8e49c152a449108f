"""One emulator with the project's operations, on a free loopback port, for the whole package
(the plugin's fixtures, configured here).

Pictures are tiny (``output_megapixels`` 0.03) and jobs take no time, so every operation runs
for real in a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bria_dagster.emulator import EmulatorConfig, EmulatorServer

from .helpers import AUTH

CONFIG = EmulatorConfig.model_validate(
    {"output_megapixels": 0.03, "latency": {"*": 0.0}, "seed": 11, "rpm": None}
)


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator of these tests (the fixtures are the plugin's, see tests/conftest.py)."""
    return CONFIG


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A client on the emulator with a token."""
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=30) as client:
        yield client

"""The suite's emulator fixtures: those of ``bria_dagster.emulator.pytest_plugin`` (installed with
the package), under the names the tests use. A folder configures its emulator by overriding
``bria_emulator_config`` in its ``conftest.py``.
"""

from __future__ import annotations

import pytest

from bria_dagster.emulator import EmulatorServer

pytest_plugins = ["pytester"]  # tests/emulator_core/test_pytest_plugin.py runs pytest itself


@pytest.fixture(scope="package")
def emulator_server(bria_emulator_server: EmulatorServer) -> EmulatorServer:
    """The package's emulator, as it is (for fixtures wider than a test)."""
    return bria_emulator_server


@pytest.fixture
def emulator(bria_emulator: EmulatorServer) -> EmulatorServer:
    """The package's emulator, reset to its configuration with empty state."""
    return bria_emulator

"""pytest fixtures for the emulator: a local Bria in your tests, as ``moto.mock_aws`` is for AWS.

Installed with the package (the ``pytest11`` entry point), so any test can ask for them::

    from bria_dagster.client import BriaClient

    def test_my_pipeline(bria_emulator):
        with BriaClient(api_token="test-token", base_url=bria_emulator.base_url) as bria:
            bria.run("image/generate", {"prompt": "a red bicycle"})
        [sent] = bria_emulator.requests(path="/v2/image/generate", method="POST")
        assert sent.json["prompt"] == "a red bicycle"

Fixtures:

- ``bria_emulator_config``: the :class:`EmulatorConfig` the server starts with: jobs that take
  no time, small pictures, a fixed seed (:data:`TEST_CONFIG`). Override it in a ``conftest.py``
  (session scope) to change it for a folder.
- ``bria_emulator_server``: the running :class:`EmulatorServer`, one per test package (so a
  folder with its own config gets its own server; a flat test folder gets one per session).
- ``bria_emulator``: the same server, reset before each test: no jobs, files, counts, limits
  or logged requests, and the runtime settings (latency, faults, rpm, ...) of the config.

Marker: ``@pytest.mark.bria_emulator(latency={"*": 0}, faults=[...])`` changes runtime settings
(``bria_dagster.emulator.config.RUNTIME_FIELDS``) for one test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bria_dagster.emulator.config import RUNTIME_FIELDS, EmulatorConfig
from bria_dagster.emulator.latency import Distribution
from bria_dagster.emulator.server import EmulatorServer

MARKER = "bria_emulator"
TEST_CONFIG = EmulatorConfig(latency={"*": Distribution.parse(0.0)}, output_megapixels=0.05, seed=0)
"""The default configuration: fast and reproducible, otherwise as Bria behaves."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): runtime emulator settings (latency, faults, rpm, ...) for a test",
    )


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator's configuration (override this fixture to change it)."""
    return TEST_CONFIG


@pytest.fixture(scope="package")
def bria_emulator_server(bria_emulator_config: EmulatorConfig) -> Iterator[EmulatorServer]:
    """The emulator on a free loopback port, for the test package."""
    with EmulatorServer(bria_emulator_config) as server:
        yield server


@pytest.fixture
def bria_emulator(
    bria_emulator_server: EmulatorServer,
    bria_emulator_config: EmulatorConfig,
    request: pytest.FixtureRequest,
) -> EmulatorServer:
    """The package's emulator, emptied and back to its configuration (plus the test's marker)."""
    state = bria_emulator_server.state
    state.configure(**{name: getattr(bria_emulator_config, name) for name in RUNTIME_FIELDS})
    state.reset()
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes settings as keywords only")
        state.configure(**marker.kwargs)
    return bria_emulator_server

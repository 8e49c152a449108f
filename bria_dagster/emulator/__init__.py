"""A local, Bria-compatible API server: the emulator (like moto for AWS).

Run it with ``bria-emulator --port 8833`` or in-process::

    from bria_dagster.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(latency={"*": 0.2})) as emulator:
        ...  # point a client at emulator.base_url; read emulator.stats()

The server core (auth, rate limits, the 202/status lifecycle, files, webhooks, faults, stats)
lives here; the state machines (jobs, result files, the tailored workflow, the ads listings) in
``bria_dagster.emulator.backends``, with no HTTP; each endpoint's meaning in
``bria_dagster.emulator.handlers`` (one handler map per family), which sees the core through
``bria_dagster.emulator.contract``.
``emulator.requests(path="/v2/*")`` (``GET /_emulator/requests``) lists what clients sent.
With the package installed, pytest gets the fixtures of
:mod:`bria_dagster.emulator.pytest_plugin` (``bria_emulator``).
"""

from bria_dagster.emulator.app import create_app
from bria_dagster.emulator.config import PLAN_RPM, EmulatorConfig
from bria_dagster.emulator.contract import JobOperation, OperationContext
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.emulator.latency import Distribution
from bria_dagster.emulator.requestlog import RecordedRequest
from bria_dagster.emulator.routing import RouteProvider
from bria_dagster.emulator.server import EmulatorServer
from bria_dagster.emulator.state import EmulatorState
from bria_dagster.emulator.stats import StatsSnapshot

__all__ = [
    "PLAN_RPM",
    "ApiError",
    "Distribution",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "FaultRule",
    "JobOperation",
    "OperationContext",
    "RecordedRequest",
    "RouteProvider",
    "StatsSnapshot",
    "create_app",
]

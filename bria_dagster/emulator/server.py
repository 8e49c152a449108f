"""Run the emulator: in-process (:class:`EmulatorServer`, for tests) or bound to a socket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import uvicorn

from bria_dagster.emulator.app import create_app
from bria_dagster.emulator.config import EmulatorConfig
from bria_dagster.emulator.contract import JobOperation
from bria_dagster.emulator.requestlog import RecordedRequest
from bria_dagster.emulator.routing import RouteProvider
from bria_dagster.emulator.state import EmulatorState
from bria_dagster.emulator.stats import StatsSnapshot
from bria_dagster.serving import BackgroundServer

HttpImpl = Literal["auto", "h11", "httptools"]
LoopImpl = Literal["auto", "asyncio", "uvloop"]


def uvicorn_server(
    state: EmulatorState,
    operations: Sequence[JobOperation] | None = None,
    route_providers: Sequence[RouteProvider] | None = None,
    *,
    http: HttpImpl = "auto",
    loop: LoopImpl = "auto",
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server for the emulator app (run it with ``server.run(sockets=[sock])``)."""
    app = create_app(state.config, operations, route_providers, state=state)
    config = uvicorn.Config(
        app,
        http=http,
        loop=loop,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        backlog=2048,
        # Longer than a client's idle-connection expiry (httpx: 5 s), as load balancers are, so
        # the server never closes a connection a client is reusing for a submit at that moment.
        timeout_keep_alive=75,
    )
    return uvicorn.Server(config)


class EmulatorServer(BackgroundServer):
    """The emulator on a loopback port, in a background thread. A context manager.

    >>> with EmulatorServer(EmulatorConfig(latency={"*": 0.1})) as emulator:
    ...     httpx.get(f"{emulator.base_url}/v2/status/x", headers={"api_token": "t"})

    ``operations`` / ``route_providers`` default to the operations package's. ``state`` is the
    live :class:`EmulatorState`: ``state.configure(faults=[...])`` changes settings at runtime,
    ``state.reset()`` forgets everything, ``state.jobs`` holds the jobs.
    """

    thread_name = "bria-emulator"

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        operations: Sequence[JobOperation] | None = None,
        route_providers: Sequence[RouteProvider] | None = None,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.config = config or EmulatorConfig()
        super().__init__(self.config.host, self.config.port, startup_timeout_s)
        self.state = EmulatorState(self.config)
        self._operations = operations
        self._route_providers = route_providers

    def make_server(self) -> uvicorn.Server:
        """The emulator's uvicorn server (the state learns its URL unless it has one)."""
        if not self.state.base_url:
            self.state.base_url = self.base_url
        return uvicorn_server(self.state, self._operations, self._route_providers)

    def stats(self) -> StatsSnapshot:
        """The counters now (same as ``GET /_emulator/stats``)."""
        return self.state.snapshot()

    def requests(
        self, path: str | None = None, method: str | None = None, since: int = 0
    ) -> list[RecordedRequest]:
        """The request log now, filtered as ``GET /_emulator/requests`` is: ``path`` a glob
        (``"/v2/*"``), ``method`` (``"POST"``), ``since`` a ``seq``."""
        return self.state.requests.query(path, method, since)

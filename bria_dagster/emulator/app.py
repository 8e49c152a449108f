"""The emulator's Starlette application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import import_module

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bria_dagster.emulator.admin import ADMIN_PATHS, admin_routes
from bria_dagster.emulator.config import EmulatorConfig
from bria_dagster.emulator.contract import JobOperation
from bria_dagster.emulator.downloads import download_endpoint
from bria_dagster.emulator.faults import RAW_SEND_KEY
from bria_dagster.emulator.guard import ApiGuard, FaultGuard
from bria_dagster.emulator.lifecycle import STATUS_PATH, status_endpoint, submit_endpoint
from bria_dagster.emulator.routing import RouteProvider
from bria_dagster.emulator.state import EmulatorState

logger = logging.getLogger(__name__)
OPERATIONS_MODULE = "bria_dagster.emulator.handlers"
API_PREFIXES = ("/v1/", "/v2/")


class EmulatorApp(Starlette):
    """A Starlette app that carries its :class:`EmulatorState` (``app.emulator``)."""

    def __init__(self, emulator: EmulatorState, routes: Sequence[BaseRoute]) -> None:
        self.emulator = emulator

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            await emulator.aclose()

        super().__init__(routes=routes, lifespan=lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The server's own send leads to its transport: fault injection drops connections there.
        scope[RAW_SEND_KEY] = send
        log = self.emulator.requests
        if scope["type"] == "http" and log.enabled and scope["path"] not in ADMIN_PATHS:
            return await log.record(super().__call__, scope, receive, send)
        await super().__call__(scope, receive, send)


def default_operations() -> tuple[list[JobOperation], list[RouteProvider]]:
    """The operations package's ``ALL_OPERATIONS`` and ``ROUTE_PROVIDERS`` (empty if absent)."""
    try:
        module = import_module(OPERATIONS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != OPERATIONS_MODULE:
            raise
        logger.warning("%s is not installed: the emulator serves no operations", OPERATIONS_MODULE)
        return [], []
    return list(module.ALL_OPERATIONS), list(module.ROUTE_PROVIDERS)


def _guarded(route: BaseRoute, state: EmulatorState) -> BaseRoute:
    """API routes (under /v1/ and /v2/) get auth, limits and faults; others (e.g. a presigned
    upload target) are served as they are."""
    if isinstance(route, Route) and route.path.startswith(API_PREFIXES):
        route.app = ApiGuard(route.app, state, route.path)
    return route


def create_app(
    config: EmulatorConfig | None = None,
    operations: Sequence[JobOperation] | None = None,
    route_providers: Sequence[RouteProvider] | None = None,
    *,
    state: EmulatorState | None = None,
) -> EmulatorApp:
    """Build the emulator app.

    ``operations`` / ``route_providers`` default to those of ``bria_dagster.emulator.handlers``
    (both, when ``operations`` is None). Pass ``state`` to share an existing state object.
    """
    if operations is None:
        operations, default_providers = default_operations()
        route_providers = default_providers if route_providers is None else route_providers
    state = state or EmulatorState(config or EmulatorConfig())
    status = Route(f"{STATUS_PATH}/{{request_id}}", status_endpoint(state), methods=["GET"])
    status.app = ApiGuard(status.app, state, status.path, endpoint=STATUS_PATH, kind="status")
    files = Route("/files/{name}", download_endpoint(state), methods=["GET", "HEAD"])
    files.app = FaultGuard(files.app, state, files.path)
    routes: list[BaseRoute] = [
        status,  # first: the hot path matches at once
        files,
        *admin_routes(state),
    ]
    seen: set[str] = set()
    for op in operations:
        if op.path in seen:
            raise ValueError(f"operations: {op.path} is registered twice")
        seen.add(op.path)
        route = Route(op.path, submit_endpoint(state, op), methods=["POST"])
        route.app = ApiGuard(route.app, state, op.path, kind="submit")
        routes.append(route)
    for provider in route_providers or ():
        routes.extend(_guarded(route, state) for route in provider(state))
    return EmulatorApp(state, routes)

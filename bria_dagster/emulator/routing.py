"""Plain routes (not job operations) that handler modules add to the emulator app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bria_dagster.client.catalog import OPERATIONS
from bria_dagster.emulator.bodies import read_json_object
from bria_dagster.emulator.contract import check_request
from bria_dagster.emulator.envelope import error_response
from bria_dagster.emulator.errors import ApiError

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState

Json = dict[str, Any]
JsonHandler = Callable[[Request, Json], Awaitable[Response] | Response]
"""Answers a request, given its JSON body (``{}`` for GET and DELETE); may raise ApiError."""


class RouteProvider(Protocol):
    """A callable that returns extra Starlette routes, given the emulator's shared state.

    Routes under ``/v1/`` and ``/v2/`` get the core's auth, rate limits and faults; others
    (e.g. a presigned upload target) are served as they are."""

    def __call__(self, state: EmulatorState) -> list[BaseRoute]: ...


def json_route(state: EmulatorState, method: str, path: str, handler: JsonHandler) -> Route:
    """A route whose POST/PUT body is a JSON object checked with the catalog's request model
    for ``(method, path)``, if any; an ApiError (or bad JSON, 400) answers in Bria's envelope."""
    spec = OPERATIONS.get((method, path))
    model = spec.request_model if spec is not None else None

    async def endpoint(request: Request) -> Response:
        try:
            body: Json = {}
            if method in ("POST", "PUT"):
                body = await read_json_object(request, state.config.max_body_bytes, empty=True)
                if model is not None:
                    check_request(model, body)
            result = handler(request, body)
            return await result if isinstance(result, Awaitable) else result
        except ApiError as error:
            return error_response(error)
        except ValueError as exc:
            return error_response(ApiError(400, "Invalid JSON", str(exc)))

    return Route(path, endpoint, methods=[method])

"""What every API route goes through before its handler: counting, auth, rate limit, faults.

Wrapped around each API route's ASGI app (the core's and the operations' routes alike), so it
knows the route's path template without routing again.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bria_dagster.emulator.envelope import error_response
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.faults import FaultRule, RequestKind, drop_connection
from bria_dagster.emulator.ratelimit import token_hash

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState

TOKEN_KEY = "bria_emulator.token"
"""Scope key holding the caller's token for the handler (never logged or stored)."""
_TOKEN_HEADER = b"api_token"
_KNOWN = frozenset(s.value for s in HTTPStatus)


def _token(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _TOKEN_HEADER:
            return str(value.decode("latin-1")).strip()
    return ""


class ApiGuard:
    """ASGI wrapper of one API route.

    ``endpoint`` is the rate-limit and fault-scope key (the path template; ``/v2/status`` for
    status polls), ``kind`` tells submits and status polls apart for fault scopes.
    """

    def __init__(
        self,
        app: ASGIApp,
        state: EmulatorState,
        template: str,
        *,
        endpoint: str | None = None,
        kind: RequestKind = "other",
    ) -> None:
        self.app = app
        self.state = state
        self.template = template
        self.endpoint = endpoint or template
        self.kind: RequestKind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        stats = state.stats
        stats.requests[f"{scope['method']} {self.template}"] += 1
        token = _token(scope)
        config = state.config
        if not token:
            error = ApiError(401, "Unauthorized", "Missing api_token header")
            return await error_response(error)(scope, receive, send)
        if config.forbidden_token is not None and token == config.forbidden_token:
            error = ApiError(403, "Forbidden", "This api_token may not use this endpoint")
            return await error_response(error)(scope, receive, send)
        retry_after = state.limiter.acquire(token_hash(token), self.endpoint)
        if retry_after is not None:
            stats.rate_limited[self.endpoint] += 1
            error = ApiError(429, "Request limit exceeded", f"Retry after {retry_after} s")
            response = error_response(error, headers={"Retry-After": str(retry_after)})
            return await response(scope, receive, send)

        scope[TOKEN_KEY] = token
        await apply_faults(state, self.endpoint, self.kind, self.app, scope, receive, send)


class FaultGuard:
    """ASGI wrapper that applies only the fault rules (for result files: ``on: files``)."""

    def __init__(self, app: ASGIApp, state: EmulatorState, endpoint: str) -> None:
        self.app = app
        self.state = state
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await apply_faults(self.state, self.endpoint, "file", self.app, scope, receive, send)


def _injected(fault: FaultRule) -> Response:
    """The answer of a ``server_error`` or ``respond`` rule."""
    if fault.kind == "respond":
        if fault.text is not None:
            return Response(fault.text, fault.status_code, headers=fault.headers)
        if fault.body is not None:
            return JSONResponse(fault.body, fault.status_code, headers=fault.headers)
        return Response(status_code=fault.status_code, headers=fault.headers)
    phrase = HTTPStatus(fault.status_code).phrase if fault.status_code in _KNOWN else "Error"
    return error_response(ApiError(fault.status_code, phrase, "Injected server error"))


async def apply_faults(
    state: EmulatorState,
    endpoint: str,
    kind: RequestKind,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Serve one request through the fault rules that fire for it (or straight to ``app``)."""
    stats = state.stats
    plan = state.faults.transport(endpoint, kind)
    fault = plan.fault
    if fault is not None and fault.kind != "drop_after":
        stats.faults[fault.kind] += 1
        if fault.kind == "drop_before":
            return await drop_connection(scope)
        return await _injected(fault)(scope, receive, send)
    if fault is None and not plan.delay_s and not plan.chunked:
        return await app(scope, receive, send)
    if plan.delay_s:
        stats.faults["slow"] += 1
    if plan.chunked:
        stats.faults["chunked"] += 1
    if fault is not None:
        stats.faults[fault.kind] += 1
    wrapped = _AfterProcessing(scope, send, plan.delay_s, fault is not None, plan.chunked)
    await app(scope, receive, wrapped)


class _AfterProcessing:
    """A ``send`` that delays the answer, drops the connection instead of answering, and/or
    leaves ``Content-Length`` out (the server then sends the body chunked)."""

    def __init__(
        self, scope: Scope, send: Send, delay_s: float, drop: bool, chunked: bool = False
    ) -> None:
        self._scope = scope
        self._send = send
        self._delay_s = delay_s
        self._drop = drop
        self._chunked = chunked
        self._dropped = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self._chunked:
                headers = [(k, v) for k, v in message["headers"] if k != b"content-length"]
                message = {**message, "headers": headers}
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            if self._drop:
                self._dropped = True
                await drop_connection(self._scope)
        if not self._dropped:
            await self._send(message)

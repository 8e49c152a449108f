"""An ASGI middleware that bounds how long a request body may take to arrive, and how many may
be arriving at once.

uvicorn times out idle keep-alive connections but not a body that trickles in (a byte every few
seconds holds a connection, and its task, forever). Here every request's body must be complete
within ``timeout_s`` of the request's start, else the answer is 408 and the connection closes;
and when ``max_arriving`` bodies are already arriving, a new request is answered 503 at once
without being read. Bria sends a delivery's small body at once and retries on any non-2xx, so
neither limit costs a real delivery anything.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_BODY_TIMEOUT_S = 5.0
"""Half of the 10 s Bria waits for an answer: a delivery's body arrives in milliseconds."""
DEFAULT_MAX_ARRIVING_BODIES = 512


class _BodyTimeoutError(Exception):
    """The body did not arrive in time."""


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyDeadline:
    """Wrap an ASGI app: 408 for a body slower than ``timeout_s``, 503 beyond ``max_arriving``
    bodies in flight."""

    def __init__(self, app: ASGIApp, *, timeout_s: float, max_arriving: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.max_arriving = max_arriving
        self.arriving = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.arriving >= self.max_arriving:
            await _answer(send, 503, "too many request bodies arriving at once; retry later")
            return
        self.arriving += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        arrived = False
        started = False

        def done() -> None:
            nonlocal arrived
            if not arrived:
                arrived = True
                self.arriving -= 1

        async def timed_receive() -> Message:
            if arrived:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                done()
                raise _BodyTimeoutError from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except _BodyTimeoutError:
            if not started:
                await _answer(send, 408, f"the body did not arrive within {self.timeout_s:g} s")
        finally:
            done()

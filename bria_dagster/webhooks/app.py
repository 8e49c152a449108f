"""The webhook receiver: an ASGI (Starlette) app that records Bria's deliveries in the ledger.

``POST /bria/webhook`` takes a delivery, checks its ``Bria-Webhook-*`` signature (key derived
from the API token that submitted the job) and freshness, and records the job's end in the
ledger, so the result sensor needs no status poll for it. ``GET /healthz`` says whether the
ledger answers.

Answers, and why (Bria retries a delivery, about 5 times over 45 minutes, until it gets a 2xx):

- 200 for a recorded delivery, a duplicate (nothing changes), and an unknown request_id. An
  unknown id is a job of another ledger or an attempt an operator has since re-armed: no retry
  can make it known, so Bria is told to stop. The receiver first waits up to
  ``unknown_grace_seconds`` for the id to appear, because a fast job's webhook can overtake the
  submitter's ``mark_submitted``; if it still is unknown, nothing is lost: the sensor polls
  every pending entry it knows.
- 401 for a missing, wrong or stale signature: nothing is read or written.
- 400 for a signed body that is not a status object, 413 for an oversized body.
- 503 when the ledger cannot be reached: Bria retries later.
- 408 for a body that has not fully arrived ``body_timeout_s`` after the request began, and 503
  at once when ``max_arriving_bodies`` bodies are already arriving (see
  :mod:`~bria_dagster.webhooks.deadline`): a client trickling bytes cannot hold connections.

The token lives only in this app's closure: it is never logged, returned or stored elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bria_dagster.client.errors import BriaInputError, WebhookVerificationError
from bria_dagster.client.results import parse_status
from bria_dagster.client.webhooks import (
    DEFAULT_TOLERANCE_SECONDS,
    HEADER_ID,
    verify_webhook,
)
from bria_dagster.ledger import Ledger
from bria_dagster.webhooks.deadline import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_MAX_ARRIVING_BODIES,
    BodyDeadline,
)
from bria_dagster.webhooks.delivery import Action, DeliveryOutcome, apply_delivery

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/bria/webhook"
HEALTH_PATH = "/healthz"
DEFAULT_UNKNOWN_GRACE_SECONDS = 2.0
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
_RECHECK_INTERVAL_S = 0.2


class BodyTooLargeError(Exception):
    """The request body is over the receiver's limit."""


class WebhookApp(Starlette):
    """The receiver's Starlette app; ``webhook_path`` is where deliveries are POSTed."""

    webhook_path: str


def _check_args(
    ledger: object,
    api_token: object,
    tolerance_seconds: object,
    path: object,
    unknown_grace_seconds: object,
    max_body_bytes: object,
) -> None:
    if not isinstance(ledger, Ledger):
        raise BriaInputError("ledger", f"must be a Ledger, got {type(ledger).__name__}")
    if not isinstance(api_token, str) or not api_token.strip():
        raise BriaInputError("api_token", "must be the non-empty API token that submits the jobs")
    if tolerance_seconds is not None and (
        isinstance(tolerance_seconds, bool)
        or not isinstance(tolerance_seconds, int | float)
        or not tolerance_seconds > 0
    ):
        raise BriaInputError("tolerance_seconds", "must be a number of seconds above 0, or None")
    if not isinstance(path, str) or not path.startswith("/") or path == HEALTH_PATH:
        raise BriaInputError("path", f"must start with '/' and differ from {HEALTH_PATH}")
    if (
        isinstance(unknown_grace_seconds, bool)
        or not isinstance(unknown_grace_seconds, int | float)
        or not 0 <= unknown_grace_seconds <= 8
    ):
        # Bria wants an answer within 10 s.
        raise BriaInputError("unknown_grace_seconds", "must be between 0 and 8 seconds")
    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 1024
    ):
        raise BriaInputError("max_body_bytes", "must be an integer of at least 1024")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def create_webhook_app(
    ledger: Ledger,
    api_token: str,
    *,
    tolerance_seconds: float | None = DEFAULT_TOLERANCE_SECONDS,
    path: str = WEBHOOK_PATH,
    unknown_grace_seconds: float = DEFAULT_UNKNOWN_GRACE_SECONDS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ledger_concurrency: int = 1,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    max_arriving_bodies: int = DEFAULT_MAX_ARRIVING_BODIES,
) -> WebhookApp:
    """Build the receiver for ``ledger``; deliveries must be signed for ``api_token``.

    ``tolerance_seconds`` bounds the age of a delivery's timestamp (replay protection; None
    turns the check off). See the module docstring for the answers and why. Serve it with any
    ASGI server, or with :class:`~bria_dagster.webhooks.server.WebhookServer` / the
    ``bria-webhooks`` command. ``ledger_concurrency`` bounds the ledger calls in flight (worker
    threads); raise it for a PostgreSQL ledger across a network. ``body_timeout_s`` and
    ``max_arriving_bodies`` bound slow request bodies (408, 503). Invalid arguments raise
    ``BriaInputError`` naming the argument.
    """
    _check_args(ledger, api_token, tolerance_seconds, path, unknown_grace_seconds, max_body_bytes)
    if (
        isinstance(ledger_concurrency, bool)
        or not isinstance(ledger_concurrency, int)
        or not 1 <= ledger_concurrency <= 64
    ):
        raise BriaInputError("ledger_concurrency", "must be an integer from 1 to 64")
    if (
        isinstance(body_timeout_s, bool)
        or not isinstance(body_timeout_s, int | float)
        or not 0 < body_timeout_s <= 9
    ):
        raise BriaInputError("body_timeout_s", "must be above 0 and at most 9 seconds")
    if (
        isinstance(max_arriving_bodies, bool)
        or not isinstance(max_arriving_bodies, int)
        or max_arriving_bodies < 1
    ):
        raise BriaInputError("max_arriving_bodies", "must be an integer of at least 1")

    # One ledger call at a time by default: SQLite serialises writers anyway, and queueing here
    # (FIFO) keeps the slowest answer far below Bria's 10 s timeout, where threads competing
    # for SQLite's lock in its busy handler left some deliveries waiting for seconds.
    limiter = anyio.CapacityLimiter(ledger_concurrency)

    async def record(request_id: str, body: dict[str, Any]) -> DeliveryOutcome:
        status = parse_status(body, request_id)
        deadline = time.monotonic() + unknown_grace_seconds
        while True:
            outcome = await anyio.to_thread.run_sync(
                apply_delivery, ledger, status, limiter=limiter
            )
            if outcome.action is not Action.UNKNOWN_REQUEST or time.monotonic() >= deadline:
                return outcome
            await asyncio.sleep(min(_RECHECK_INTERVAL_S, max(0.0, deadline - time.monotonic())))

    async def receive(request: Request) -> JSONResponse:
        try:
            raw = await _read_body(request, max_body_bytes)
        except BodyTooLargeError:
            return _error(413, f"body over {max_body_bytes} bytes")
        try:
            request_id = verify_webhook(
                api_token, request.headers, raw, tolerance_seconds=tolerance_seconds
            )
        except WebhookVerificationError as exc:
            client = request.client.host if request.client else "?"
            logger.warning("refused a webhook from %s: %s", client, exc)
            return _error(401, f"signature check failed: {exc}")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _error(400, "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "body is not a JSON object")
        if body.get("request_id") not in (None, request_id):
            return _error(400, f"body request_id differs from {HEADER_ID}")
        try:
            outcome = await record(request_id, body)
        except sa.exc.SQLAlchemyError as exc:
            logger.error("ledger unavailable for webhook %s: %s", request_id, type(exc).__name__)
            return _error(503, "ledger unavailable; retry later")
        logger.info(
            "webhook %s: %s%s",
            request_id,
            outcome.action.value,
            f" ({outcome.note})" if outcome.note else "",
        )
        return JSONResponse(outcome.as_json())

    async def health(_request: Request) -> JSONResponse:
        try:
            pending = await anyio.to_thread.run_sync(ledger.pending_count, limiter=limiter)
        except sa.exc.SQLAlchemyError as exc:
            return _error(503, f"ledger unavailable: {type(exc).__name__}")
        return JSONResponse({"status": "ok", "pending": pending})

    app = WebhookApp(
        routes=[
            Route(path, receive, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ],
        middleware=[
            Middleware(BodyDeadline, timeout_s=body_timeout_s, max_arriving=max_arriving_bodies)
        ],
    )
    app.webhook_path = path
    return app

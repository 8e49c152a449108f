"""HTTP answers and transport failures turned into the typed errors of :mod:`.errors`.

Bria's error envelope ``{"error": {code, message, details}, "request_id"}``, a bare JSON string
(some v1 endpoints), ``{"status": "NOT_FOUND"}`` (status service), HTML or empty bodies: all
become a :class:`BriaAPIError` subclass chosen by HTTP status.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from bria_dagster.client.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BriaAPIError,
    BriaConnectionError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)

_BY_STATUS: dict[int, type[BriaAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimitError,
    460: ValidationError,
}
_TEXT_LIMIT = 500

Scrub = Callable[[str], str]
"""Removes secrets from text that may end up in an exception."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def json_or_none(response: httpx.Response) -> Any:
    """The body parsed as JSON, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _text(value: Any, scrub: Scrub) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return scrub(text[:_TEXT_LIMIT]) or None


def scrub_tree(value: Any, scrub: Scrub) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrub_tree(item, scrub) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_tree(item, scrub) for item in value]
    return value


def error_from_response(
    response: httpx.Response, *, endpoint: str, scrub: Scrub = str
) -> BriaAPIError:
    """The typed error for an HTTP error answer (status >= 400)."""
    status = response.status_code
    body = json_or_none(response)
    code: int | str | None = status
    message: str | None = None
    details: str | None = None
    request_id: str | None = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            raw_code = error.get("code")
            code = raw_code if isinstance(raw_code, int | str) else status
            message = _text(error.get("message"), scrub)
            details = _text(error.get("details"), scrub)
        elif error is not None:
            message = _text(error, scrub)
        message = message or _text(body.get("message") or body.get("detail"), scrub)
        if message is None and body.get("status") == "NOT_FOUND":
            message = "not found (unknown or expired request_id)"
        rid = body.get("request_id")
        request_id = str(rid) if rid else None
    elif isinstance(body, str):
        message = _text(body, scrub)
    elif response.content:
        details = _text(response.content.decode("utf-8", errors="replace").strip(), scrub)
    message = message or response.reason_phrase or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "details": details,
        "request_id": request_id,
        "endpoint": endpoint,
        "body": scrub_tree(body, scrub),
    }
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return _BY_STATUS.get(status, BriaAPIError)(message, **kwargs)


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that happen before any byte of the request leaves: the call provably did not run."""


def transport_error(
    exc: httpx.TransportError, *, endpoint: str, idempotent: bool, scrub: Scrub = str
) -> BriaConnectionError:
    """The typed error for a failed exchange.

    A non-idempotent call (POST, ...) whose request may have reached Bria becomes an
    :class:`AmbiguousSubmitError`: it may have been billed, so nobody retries it blindly.
    """
    detail = scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
    if isinstance(exc, _NOT_SENT):
        return BriaConnectionError(f"not sent ({detail})", endpoint=endpoint, request_sent=False)
    if idempotent:
        return BriaConnectionError(f"no answer ({detail})", endpoint=endpoint, request_sent=True)
    return AmbiguousSubmitError(
        f"request sent but no answer ({detail}); it may have been accepted and billed, "
        "so it was not retried",
        endpoint=endpoint,
    )


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a failed call may be sent again without risk of running twice.

    Idempotent calls (GET) retry on 429, 5xx and any connection failure. Other calls retry only
    when Bria provably did not process them: a 429, or a failure before the request was sent.
    """
    if isinstance(exc, RateLimitError):
        return True
    if isinstance(exc, BriaConnectionError):
        return idempotent or not exc.request_sent
    return idempotent and isinstance(exc, ServerError)

"""Bria webhook signatures: sign (used by the emulator) and verify (used by receivers).

Bria signs a delivery Svix-style with a key derived from the API token (bria-api.md §4):

1. ``signing_key = HMAC_SHA256(key=api_token, msg=b"bria-webhook-signing-v1")``
2. ``message = f"{webhook_id}.{timestamp}.{raw_body}"``
3. ``Bria-Webhook-Signature: v1=<base64(HMAC_SHA256(signing_key, message))>`` (a comma-separated
   list; a delivery is genuine when any ``v1=`` token matches).

Unlike Bria's SDK, :func:`verify_webhook` also rejects deliveries whose timestamp is further than
``tolerance_seconds`` from now, which stops replays of old deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from bria_dagster.client.errors import WebhookVerificationError

HEADER_ID = "Bria-Webhook-Id"
HEADER_TIMESTAMP = "Bria-Webhook-Timestamp"
HEADER_SIGNATURE = "Bria-Webhook-Signature"
_KEY_DERIVATION_MESSAGE = b"bria-webhook-signing-v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def signing_key(api_token: str) -> bytes:
    """Derive the 32-byte webhook signing key from an API token."""
    return hmac.new(api_token.encode("utf-8"), _KEY_DERIVATION_MESSAGE, hashlib.sha256).digest()


def compute_signature(api_token: str, webhook_id: str, timestamp: str, body: bytes | str) -> str:
    """Return the ``v1=<base64>`` signature of one delivery."""
    message = f"{webhook_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(signing_key(api_token), message, hashlib.sha256).digest()
    return "v1=" + base64.b64encode(digest).decode("ascii")


def sign_webhook(
    api_token: str, webhook_id: str, body: bytes | str, *, timestamp: int | None = None
) -> dict[str, str]:
    """Return the three ``Bria-Webhook-*`` headers for a delivery of ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        HEADER_ID: webhook_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: compute_signature(api_token, webhook_id, ts, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get(name.lower())
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def verify_webhook(
    api_token: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_seconds: float | None = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a delivery's signature and freshness; return its webhook id (the request_id).

    ``body`` must be the raw request body, unmodified. Pass ``tolerance_seconds=None`` to skip
    the replay check (as Bria's SDK does). Raises :class:`WebhookVerificationError`.
    """
    webhook_id = _header(headers, HEADER_ID)
    timestamp = _header(headers, HEADER_TIMESTAMP)
    signatures = _header(headers, HEADER_SIGNATURE)
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError(f"{HEADER_TIMESTAMP} is not an integer") from None
    if tolerance_seconds is not None:
        current = time.time() if now is None else now
        if abs(current - sent_at) > tolerance_seconds:
            raise WebhookVerificationError(
                f"{HEADER_TIMESTAMP} is {int(current - sent_at)} s from now "
                f"(tolerance {tolerance_seconds} s)"
            )
    expected = compute_signature(api_token, webhook_id, timestamp, body)
    for token in signatures.split(","):
        candidate = token.strip()
        if candidate.startswith("v1=") and hmac.compare_digest(candidate, expected):
            return webhook_id
    raise WebhookVerificationError("no v1 signature matches")

"""Webhook signatures: Bria's published test vector (bria-api.md §4), tampering, replays."""

from __future__ import annotations

import pytest

from bria_dagster.client import WebhookVerificationError, sign_webhook, verify_webhook

TOKEN = "test-token-abc123"
WEBHOOK_ID = "req-9f8e7d6c"
TIMESTAMP = 1723800000
BODY = '{"request_id":"req-9f8e7d6c","status":"COMPLETED"}'
EXPECTED = "v1=L49e/+aGg8Xr6F7PT9+bYWJ4ADPN73Pu5ooGltV5MUs="


def test_signature_matches_brias_test_vector() -> None:
    headers = sign_webhook(TOKEN, WEBHOOK_ID, BODY, timestamp=TIMESTAMP)
    assert headers == {
        "Bria-Webhook-Id": WEBHOOK_ID,
        "Bria-Webhook-Timestamp": str(TIMESTAMP),
        "Bria-Webhook-Signature": EXPECTED,
    }


def test_verification_accepts_the_vector_and_any_matching_signature() -> None:
    headers = {
        "bria-webhook-id": WEBHOOK_ID,
        "bria-webhook-timestamp": str(TIMESTAMP),
        "bria-webhook-signature": f"v1=bm90LWl0, {EXPECTED}",
    }
    assert verify_webhook(TOKEN, headers, BODY.encode(), now=TIMESTAMP + 10) == WEBHOOK_ID
    assert verify_webhook(TOKEN, headers, BODY, tolerance_seconds=None) == WEBHOOK_ID


@pytest.mark.parametrize(
    ("token", "body", "now", "message"),
    [
        (TOKEN, BODY.replace("COMPLETED", "ERROR"), TIMESTAMP, "no v1 signature"),
        ("another-token", BODY, TIMESTAMP, "no v1 signature"),
        (TOKEN, BODY, TIMESTAMP + 301, "tolerance"),
    ],
)
def test_tampered_forged_or_stale_deliveries_are_refused(
    token: str, body: str, now: int, message: str
) -> None:
    headers = sign_webhook(TOKEN, WEBHOOK_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match=message):
        verify_webhook(token, headers, body, now=now)


def test_missing_headers_are_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="Bria-Webhook-Signature"):
        verify_webhook(TOKEN, {"Bria-Webhook-Id": "x", "Bria-Webhook-Timestamp": "1"}, BODY)

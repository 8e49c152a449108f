"""Deliveries posted directly to the running receiver: signatures, duplicates, unknown ids."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from bria_dagster.client import BriaClient
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.webhooks import sign_webhook
from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from bria_dagster.webhooks import WebhookServer, create_webhook_app
from tests.ledger.ledger_support import Target

from .support import deliver, submit, wait_for_states


def _completed_body(entry: LedgerEntry) -> dict[str, object]:
    return {
        "request_id": entry.request_id,
        "status": "COMPLETED",
        "result": {"image_url": "https://files.example/x.png", "seed": 5},
    }


def _pending(ledger: Ledger, bria: BriaClient, prompt: str = "a blue chair") -> LedgerEntry:
    """A pending entry whose job reports to nobody (no webhook_url)."""
    return submit(ledger, bria, prompt, None)


def test_bad_or_stale_signature_is_refused_and_writes_nothing(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer, token: str
) -> None:
    entry = _pending(ledger, bria)
    body = _completed_body(entry)
    raw = json.dumps(body).encode()

    wrong_token = deliver(receiver.webhook_url, "not-the-token", body)
    stale = deliver(receiver.webhook_url, token, body, timestamp=int(time.time()) - 3600)
    headers = sign_webhook(token, entry.request_id or "", b'{"other": "body"}')
    tampered = httpx.post(receiver.webhook_url, content=raw, headers=headers)
    unsigned = httpx.post(receiver.webhook_url, content=raw)

    for response in (wrong_token, stale, tampered, unsigned):
        assert response.status_code == 401, response.text
    assert "tolerance" in stale.json()["error"]
    assert "missing header" in unsigned.json()["error"]
    assert ledger.get(entry.id) == entry

    # The same body, correctly signed, goes through.
    good = deliver(receiver.webhook_url, token, body)
    assert good.status_code == 200
    assert good.json()["outcome"] == "completed"
    assert ledger.get(entry.id).state is EntryState.COMPLETED


def test_duplicate_deliveries_change_nothing(
    ledger: Ledger,
    bria: BriaClient,
    emulator: EmulatorServer,
    receiver: WebhookServer,
    token: str,
) -> None:
    entry = submit(ledger, bria, "a green lamp", receiver.webhook_url)
    (done,) = wait_for_states(ledger, [entry.id], {EntryState.COMPLETED})
    assert emulator.stats().status_polls_total == 0
    # Bria's own body for this job, byte for byte what its webhook carried.
    status = httpx.get(
        f"{emulator.base_url}/v2/status/{entry.request_id}", headers={"api_token": token}
    )
    redelivered = status.json()

    for _ in range(2):
        answer = deliver(receiver.webhook_url, token, redelivered)
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "duplicate"
        assert ledger.get(entry.id) == done

    stored = ledger.mark_stored(entry.id, "file:///out/a.png", "cd" * 32)
    answer = deliver(receiver.webhook_url, token, redelivered)
    assert answer.json() == {
        "request_id": entry.request_id,
        "outcome": "duplicate",
        "entry_id": entry.id,
        "state": "stored",
    }
    assert ledger.get(entry.id) == stored


def test_duplicate_error_delivery_changes_nothing(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer, token: str
) -> None:
    entry = _pending(ledger, bria)
    body = {
        "request_id": entry.request_id,
        "status": "ERROR",
        "error": {"code": 500, "message": "Internal error", "details": "GPU fell over"},
    }
    first = deliver(receiver.webhook_url, token, body)
    assert first.json()["outcome"] == "failed"
    failed = ledger.get(entry.id)
    assert failed.state is EntryState.FAILED
    assert (failed.error_code, failed.error_message) == ("500", "Internal error (GPU fell over)")

    again = deliver(receiver.webhook_url, token, body)
    assert again.json()["outcome"] == "duplicate"
    assert ledger.get(entry.id) == failed


def test_error_after_completion_keeps_the_result(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer, token: str
) -> None:
    entry = _pending(ledger, bria)
    assert deliver(receiver.webhook_url, token, _completed_body(entry)).status_code == 200
    done = ledger.get(entry.id)
    error = {"request_id": entry.request_id, "status": "ERROR", "error": {"code": 500}}

    answer = deliver(receiver.webhook_url, token, error)

    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    assert ledger.get(entry.id) == done


def test_unknown_request_id_is_acknowledged(
    ledger: Ledger, receiver: WebhookServer, token: str
) -> None:
    started = time.monotonic()
    answer = deliver(
        receiver.webhook_url, token, {"request_id": "never-seen", "status": "COMPLETED"}
    )
    waited = time.monotonic() - started

    assert answer.status_code == 200  # a 2xx makes Bria stop retrying: no retry can help
    assert answer.json()["outcome"] == "unknown_request"
    assert waited >= 0.3  # the receiver's grace for a request_id not yet recorded
    assert ledger.counts()[EntryState.COMPLETED] == 0


def test_malformed_signed_bodies_are_refused(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer, token: str
) -> None:
    entry = _pending(ledger, bria)
    rid = entry.request_id or ""

    def post(raw: bytes, request_id: str = rid) -> httpx.Response:
        headers = sign_webhook(token, request_id, raw)
        return httpx.post(receiver.webhook_url, content=raw, headers=headers)

    assert post(b"not json").status_code == 400
    assert post(b"[1, 2]").status_code == 400
    assert post(b"[" * 10_000 + b"]" * 10_000).status_code == 400  # too deep to parse: not a 500
    mismatch = post(json.dumps({"request_id": "someone-else", "status": "COMPLETED"}).encode())
    assert mismatch.status_code == 400
    assert "Bria-Webhook-Id" in mismatch.json()["error"]
    assert post(b" " * (3 * 1024 * 1024)).status_code == 413
    in_progress = post(json.dumps({"request_id": rid, "status": "IN_PROGRESS"}).encode())
    assert in_progress.json()["outcome"] == "ignored"
    assert ledger.get(entry.id) == entry


def test_health_reports_the_ledger(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer
) -> None:
    _pending(ledger, bria)
    answer = httpx.get(receiver.base_url + "/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "pending": 1}


def test_ledger_outage_answers_503_so_bria_retries(
    ledger: Ledger, bria: BriaClient, receiver: WebhookServer, token: str, target: Target
) -> None:
    entry = _pending(ledger, bria)
    admin = target.admin_engine()
    table = f"{target.schema}.bria_requests" if target.schema else "bria_requests"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO bria_requests_away")
    try:
        answer = deliver(receiver.webhook_url, token, _completed_body(entry))
        health = httpx.get(receiver.base_url + "/healthz")
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {table}_away RENAME TO bria_requests")
        admin.dispose()
    assert answer.status_code == 503
    assert health.status_code == 503
    # Bria's retry then lands.
    assert deliver(receiver.webhook_url, token, _completed_body(entry)).status_code == 200
    assert ledger.get(entry.id).state is EntryState.COMPLETED


def test_the_token_is_never_logged_or_returned(
    ledger: Ledger,
    bria: BriaClient,
    receiver: WebhookServer,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    entry = _pending(ledger, bria)
    answers = [
        deliver(receiver.webhook_url, "wrong", _completed_body(entry)),
        deliver(receiver.webhook_url, token, _completed_body(entry)),
        deliver(receiver.webhook_url, token, _completed_body(entry)),
    ]
    assert [a.status_code for a in answers] == [401, 200, 200]
    assert "refused a webhook" in caplog.text
    assert f"webhook {entry.request_id}: completed" in caplog.text
    assert token not in caplog.text
    assert all(token not in a.text for a in answers)
    assert token not in repr(receiver.app.__dict__)


def test_bad_arguments_name_the_field(ledger: Ledger) -> None:
    cases = [
        ({"api_token": ""}, "api_token"),
        ({"api_token": "t", "tolerance_seconds": 0}, "tolerance_seconds"),
        ({"api_token": "t", "path": "bria/webhook"}, "path"),
        ({"api_token": "t", "unknown_grace_seconds": 30}, "unknown_grace_seconds"),
        ({"api_token": "t", "max_body_bytes": 10}, "max_body_bytes"),
        ({"api_token": "t", "ledger_concurrency": 0}, "ledger_concurrency"),
    ]
    for kwargs, field in cases:
        with pytest.raises(BriaInputError) as caught:
            create_webhook_app(ledger, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    with pytest.raises(BriaInputError) as caught:
        create_webhook_app("sqlite:///x.db", "t")  # type: ignore[arg-type]
    assert caught.value.field == "ledger"

"""Helpers for the webhook tests: submit through the ledger protocol, wait for rows, deliver."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from bria_dagster.client import BriaClient
from bria_dagster.client.webhooks import sign_webhook
from bria_dagster.ledger import (
    EntryState,
    Ledger,
    LedgerEntry,
    canonical_payload_hash,
    request_summary,
)
from tests.emulator_core.helpers import wait_for

ENDPOINT = "image/generate"
ASSET = "catalog/hero"


def submit(
    ledger: Ledger,
    bria: BriaClient,
    prompt: str,
    webhook_url: str | None,
    *,
    partition_key: str = "sku-1",
) -> LedgerEntry:
    """The deferred-asset protocol: begin_submit, POST (with the webhook), mark_submitted."""
    payload = {"prompt": prompt, "seed": 5}
    entry = ledger.begin_submit(
        ASSET,
        partition_key,
        ENDPOINT,
        canonical_payload_hash(ENDPOINT, payload),
        request_summary(payload),
        "run-1",
    )
    assert entry.submit_now
    job = bria.submit(ENDPOINT, payload, webhook_url=webhook_url)
    # next_poll_at far away: a sensor would not poll before the webhook lands.
    return ledger.mark_submitted(entry.id, job.request_id, job.status_url, time.time() + 3600)


def wait_for_states(
    ledger: Ledger, ids: list[int], states: set[EntryState], timeout: float = 20.0
) -> list[LedgerEntry]:
    """Poll the ledger (not Bria) until every entry is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [ledger.get(i) for i in ids]
        if all(e.state in states for e in entries):
            return entries
        if time.monotonic() > deadline:
            late = {e.id: e.state.value for e in entries if e.state not in states}
            raise AssertionError(f"entries not in {states} after {timeout} s: {late}")
        time.sleep(0.05)


def emulator_stats_after_deliveries(emulator: Any, delivered: int, timeout: float = 10.0) -> Any:
    """The emulator's stats once it has counted ``delivered`` webhook deliveries (the test fails
    after ``timeout`` seconds). The receiver completes a ledger row before it answers the
    delivery, and the emulator counts it when the answer is back, so its count may trail the
    ledger."""
    wait_for(lambda: emulator.stats().webhooks.delivered >= delivered, timeout)
    return emulator.stats()


def deliver(
    url: str, token: str, body: dict[str, Any] | bytes, *, timestamp: int | None = None
) -> httpx.Response:
    """POST a delivery signed for ``token``, as Bria does."""
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    request_id = json.loads(raw)["request_id"]
    headers = sign_webhook(token, request_id, raw, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    return httpx.post(url, content=raw, headers=headers, timeout=10)

"""Signed deliveries that do not say how a job ended: no state change, no resubmit, one poll.

The receiver runs under uvicorn and the result sensor's collector polls the real emulator, so the
test sees what an operator would: how many jobs Bria was paid for, and where each row ends.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bria_dagster.client import AsyncBriaClient, BriaClient
from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import (
    EntryState,
    Ledger,
    LedgerEntry,
    PendingRow,
    canonical_payload_hash,
)
from bria_dagster.sensors.collect import ResultCollector, TickLimits
from bria_dagster.storage import ObjectStore
from bria_dagster.webhooks import WebhookServer
from tests.emulator_core.helpers import wait_for

from .conftest import FAST_CLIENT
from .support import ASSET, deliver, submit


def _tick(ledger: Ledger, emulator: EmulatorServer, token: str, tmp_path: Path) -> None:
    async def run() -> None:
        async with AsyncBriaClient(
            api_token=token, base_url=emulator.base_url, **FAST_CLIENT
        ) as client:
            collector = ResultCollector(
                client=client,
                ledger=ledger,
                store=ObjectStore.from_uri(tmp_path.as_uri()),
                asset_keys=[ASSET],
                owner="test-sensor",
                limits=TickLimits(budget_s=10.0),
            )
            await collector.tick()

    asyncio.run(run())


def _finished(emulator: EmulatorServer) -> None:
    """Wait until the emulator's job is over (so a poll answers COMPLETED)."""
    wait_for(lambda: emulator.stats().jobs.get("COMPLETED", 0) >= 1, 10)


def test_an_unrecognised_status_changes_nothing_and_is_polled(
    ledger: Ledger,
    bria: BriaClient,
    emulator: EmulatorServer,
    receiver: WebhookServer,
    token: str,
    tmp_path: Path,
) -> None:
    entry = submit(ledger, bria, "a queued chair", None)
    for status in ("QUEUED", 7):
        answer = deliver(
            receiver.webhook_url, token, {"request_id": entry.request_id, "status": status}
        )
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "poll"
    noted = ledger.get(entry.id)
    assert noted.state is EntryState.PENDING
    assert noted.retryable is False
    assert noted.error_code == "unrecognised_status"
    assert "'7'" in (noted.error_message or "")
    assert noted.next_poll_at is not None and noted.next_poll_at <= time.time()

    _finished(emulator)
    _tick(ledger, emulator, token, tmp_path)

    done = ledger.get(entry.id)
    assert done.state is EntryState.STORED
    assert done.error_code is None
    assert emulator.stats().submits == {"/v2/image/generate": 1}  # paid once


def test_completed_without_a_result_goes_back_to_polling_once(
    ledger: Ledger,
    bria: BriaClient,
    emulator: EmulatorServer,
    receiver: WebhookServer,
    token: str,
    tmp_path: Path,
) -> None:
    entry = submit(ledger, bria, "an empty answer", None)
    body = {"request_id": entry.request_id, "status": "COMPLETED"}

    first = deliver(receiver.webhook_url, token, body)
    again = deliver(receiver.webhook_url, token, body)

    assert first.json()["outcome"] == "poll"
    assert again.json()["outcome"] == "ignored"  # once, not a loop
    noted = ledger.get(entry.id)
    assert (noted.state, noted.error_code) == (EntryState.PENDING, "completed_without_result")
    assert noted.result_url is None

    # The poll decides: the emulator's job did finish with a file.
    _finished(emulator)
    _tick(ledger, emulator, token, tmp_path)
    done = ledger.get(entry.id)
    assert done.state is EntryState.STORED
    assert done.result_url
    assert emulator.stats().submits == {"/v2/image/generate": 1}


def test_a_poll_that_also_lacks_the_result_fails_without_resubmitting(
    ledger: Ledger,
    bria: BriaClient,
    emulator: EmulatorServer,
    receiver: WebhookServer,
    token: str,
    tmp_path: Path,
) -> None:
    # A job whose status has no file URL: the emulator's ready-made job with an empty result.
    made = httpx.post(
        f"{emulator.base_url}/_emulator/jobs", json={"latency_s": 0, "result": {"seed": 1}}
    )
    request_id = made.json()["request_ids"][0]
    entry = _pending_with(ledger, request_id)

    body = {"request_id": request_id, "status": "COMPLETED", "result": {"seed": 1}}
    assert deliver(receiver.webhook_url, token, body).json()["outcome"] == "poll"
    for _ in range(2):  # the first poll ends it; a second tick finds nothing to do
        _tick(ledger, emulator, token, tmp_path)

    ended = ledger.get(entry.id)
    assert ended.state is EntryState.FAILED
    assert ended.retryable is False
    assert ended.error_code == "completed_without_result"
    assert "bria-ledger attention" in (ended.error_message or "")
    assert emulator.stats().status_polls_total == 1


def _pending_with(ledger: Ledger, request_id: str) -> LedgerEntry:
    now = time.time()
    ledger.bulk_insert_pending(
        [
            PendingRow(
                ASSET,
                "sku-empty",
                "image/generate",
                canonical_payload_hash("image/generate", {"prompt": "empty"}),
                request_id,
                now,
                now + 3600,
            )
        ]
    )
    found = ledger.by_request_id(request_id)
    assert found is not None
    return found

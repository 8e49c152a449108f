"""Jobs submitted to the emulator with ``webhook_url`` land in the ledger with zero status polls."""

from __future__ import annotations

import time

import httpx

from bria_dagster.client import BriaClient
from bria_dagster.client.results import JobResult
from bria_dagster.emulator import EmulatorServer
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.ledger import EntryState, Ledger
from bria_dagster.webhooks import WebhookServer, create_webhook_app

from .support import emulator_stats_after_deliveries, submit, wait_for_states


def test_batch_completes_with_zero_status_polls(
    ledger: Ledger, bria: BriaClient, emulator: EmulatorServer, receiver: WebhookServer
) -> None:
    entries = [
        submit(ledger, bria, f"a red shoe, view {i}", receiver.webhook_url, partition_key=f"s{i}")
        for i in range(12)
    ]
    assert {e.state for e in entries} == {EntryState.PENDING}

    done = wait_for_states(ledger, [e.id for e in entries], {EntryState.COMPLETED})

    stats = emulator_stats_after_deliveries(emulator, 12)
    assert stats.status_polls_total == 0
    assert stats.submits == {"/v2/image/generate": 12}
    assert stats.webhooks.delivered == 12
    assert stats.webhooks.failed_attempts == 0
    assert ledger.pending_count() == 0
    for entry in done:
        assert entry.poll_count == 0
        assert entry.result is not None
        assert entry.result_url == entry.result["image_url"]
        assert entry.result["seed"] == 5
        assert entry.result["raw"]["image_url"] == entry.result_url  # Bria's object, as sent
        assert JobResult.model_validate(entry.result).url == entry.result_url
        assert entry.completed_at is not None
        assert entry.retryable is False
    # The result URL is a real file of the emulator.
    image = httpx.get(done[0].result_url or "", timeout=10)
    assert image.status_code == 200
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_error_and_unknown_jobs_fail_retryable(
    ledger: Ledger, bria: BriaClient, emulator: EmulatorServer, receiver: WebhookServer
) -> None:
    emulator.state.configure(
        faults=[
            FaultRule(kind="job_error", on="submits", count=1),
        ]
    )
    erred = submit(ledger, bria, "fails", receiver.webhook_url, partition_key="e")
    emulator.state.configure(faults=[FaultRule(kind="job_unknown", on="submits", count=1)])
    unknown = submit(ledger, bria, "vanishes", receiver.webhook_url, partition_key="u")

    erred, unknown = wait_for_states(ledger, [erred.id, unknown.id], {EntryState.FAILED})

    assert (erred.error_code, erred.retryable) == ("500", True)
    assert erred.error_message is not None and "Internal error" in erred.error_message
    assert (unknown.error_code, unknown.retryable) == ("500", True)
    assert emulator.stats().status_polls_total == 0
    # Retryable: the asset's next begin_submit re-arms the row for a new POST.
    again = ledger.begin_submit(
        erred.asset_key, "e", erred.endpoint, erred.payload_hash, {}, "run-2"
    )
    assert again.submit_now and again.attempts == 2


def test_moderation_failure_is_not_retryable(
    ledger: Ledger, bria: BriaClient, emulator: EmulatorServer, receiver: WebhookServer
) -> None:
    entry = submit(ledger, bria, "a [moderate] poster", receiver.webhook_url)

    (failed,) = wait_for_states(ledger, [entry.id], {EntryState.FAILED})

    assert failed.error_code == "422"
    assert failed.retryable is False
    assert failed.error_message is not None and "moderation" in failed.error_message.lower()
    assert emulator.stats().status_polls_total == 0


def test_webhook_overtaking_mark_submitted_waits_for_the_ledger(
    ledger: Ledger, bria: BriaClient, emulator: EmulatorServer, token: str
) -> None:
    """A fast job's webhook can arrive before the submitter records its request_id."""
    emulator.state.configure(latency={"*": "fixed:0.01"})
    app = create_webhook_app(ledger, token, unknown_grace_seconds=3.0)
    with WebhookServer(app) as receiver:
        payload = {"prompt": "quick", "seed": 1}
        entry = ledger.begin_submit("a", None, "image/generate", "ab" * 32, payload, "run-1")
        job = bria.submit("image/generate", payload, webhook_url=receiver.webhook_url)
        time.sleep(0.6)  # the webhook is already waiting in the receiver
        assert emulator.stats().webhooks.delivered == 0
        ledger.mark_submitted(entry.id, job.request_id, job.status_url, time.time() + 3600)

        (done,) = wait_for_states(ledger, [entry.id], {EntryState.COMPLETED})

    stats = emulator_stats_after_deliveries(emulator, 1)
    assert done.result is not None
    assert stats.webhooks.delivered == 1
    assert stats.webhooks.failed_attempts == 0
    assert stats.status_polls_total == 0

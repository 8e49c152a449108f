"""The state machine: submitting → pending → completed → stored, and what each step refuses."""

from __future__ import annotations

import hashlib

import pytest

from bria_dagster.ledger import (
    EntryNotFoundError,
    EntryState,
    Ledger,
    LedgerStateError,
)

from .ledger_support import START, FakeClock, submit

DIGEST = hashlib.sha256(b"png bytes").hexdigest()


def test_happy_path_records_every_step(ledger: Ledger, clock: FakeClock) -> None:
    entry = submit(ledger, run_id="run-7")
    assert (entry.state, entry.submit_now, entry.attempts) == (EntryState.SUBMITTING, True, 1)
    assert (entry.request_id, entry.created_at, entry.run_id) == (None, START, "run-7")
    assert entry.request_summary == {"prompt": "cat", "seed": 7}

    clock.advance(1)
    pending = ledger.mark_submitted(entry.id, "rid-1", "http://bria/v2/status/rid-1", START + 5)
    assert pending.state is EntryState.PENDING
    assert (pending.request_id, pending.status_url) == ("rid-1", "http://bria/v2/status/rid-1")
    assert (pending.submitted_at, pending.next_poll_at) == (START + 1, START + 5)

    clock.advance(9)
    [claimed] = ledger.claim_due("sensor-a", lease_seconds=30)
    assert (claimed.id, claimed.lease_owner, claimed.lease_until) == (
        entry.id,
        "sensor-a",
        START + 40,
    )
    result = {"image_url": "http://files/rid-1.png", "seed": 7, "prompt": "cat"}
    done = ledger.mark_completed("rid-1", result, "http://files/rid-1.png")
    assert done.state is EntryState.COMPLETED
    assert (done.result, done.result_url, done.completed_at) == (
        result,
        "http://files/rid-1.png",
        START + 10,
    )
    assert (done.lease_owner, done.lease_until, done.next_poll_at) == (None, None, None)

    clock.advance(2)
    stored = ledger.mark_stored(entry.id, "file:///store/hero/sku-1.png", DIGEST)
    assert (stored.state, stored.storage_uri, stored.sha256, stored.stored_at) == (
        EntryState.STORED,
        "file:///store/hero/sku-1.png",
        DIGEST,
        START + 12,
    )
    assert stored.reported is False
    assert ledger.mark_reported([entry.id]) == 1
    assert ledger.mark_reported([entry.id]) == 0
    final = ledger.get(entry.id)
    assert final.reported is True
    assert final.updated_at == START + 12
    assert ledger.by_request_id("rid-1") == final


def test_duplicate_completion_changes_nothing(ledger: Ledger, clock: FakeClock) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-dup", None, START)
    first = ledger.mark_completed("rid-dup", {"image_url": "http://files/a.png"})
    clock.advance(60)
    again_by_request_id = ledger.mark_completed("rid-dup", {"image_url": "http://other/b.png"})
    again_by_id = ledger.mark_completed(entry.id, {"image_url": "http://other/c.png"}, "x")
    assert again_by_request_id == first
    assert again_by_id == first
    assert ledger.get(entry.id).result == {"image_url": "http://files/a.png"}

    ledger.mark_stored(entry.id, "file:///s/a.png", DIGEST)
    after_store = ledger.mark_completed("rid-dup", {"image_url": "http://late/d.png"})
    assert after_store.state is EntryState.STORED
    assert after_store.result == {"image_url": "http://files/a.png"}


def test_repeated_mark_submitted_and_mark_stored_are_no_ops(ledger: Ledger) -> None:
    entry = submit(ledger)
    first = ledger.mark_submitted(entry.id, "rid-2", None, START)
    assert ledger.mark_submitted(entry.id, "rid-2", None, START + 99) == first
    with pytest.raises(LedgerStateError, match="is pending: cannot mark it submitted"):
        ledger.mark_submitted(entry.id, "rid-other", None, START)

    ledger.mark_completed(entry.id, {"image_url": "u"})
    stored = ledger.mark_stored(entry.id, "file:///s/x.png", DIGEST)
    assert ledger.mark_stored(entry.id, "file:///s/x.png", DIGEST) == stored
    with pytest.raises(LedgerStateError, match=r"already at file:///s/x\.png"):
        ledger.mark_stored(entry.id, "file:///s/elsewhere.png", DIGEST)


def test_out_of_order_transitions_are_refused(ledger: Ledger) -> None:
    entry = submit(ledger)
    with pytest.raises(LedgerStateError, match="is submitting: cannot mark it completed"):
        ledger.mark_completed(entry.id, {"image_url": "u"})
    with pytest.raises(LedgerStateError, match="cannot mark it stored"):
        ledger.mark_stored(entry.id, "file:///x", DIGEST)
    with pytest.raises(LedgerStateError, match="cannot reschedule"):
        ledger.reschedule(entry.id, START, 1)
    with pytest.raises(LedgerStateError, match="cannot retry"):
        ledger.retry(entry.id)
    assert ledger.mark_reported([entry.id]) == 0
    assert ledger.get(entry.id).state is EntryState.SUBMITTING


def test_failure_records_the_error_and_a_late_success_wins(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-f", None, START)
    failed = ledger.mark_failed(entry.id, 503, "Service Unavailable")
    assert (failed.state, failed.error_code, failed.error_message, failed.retryable) == (
        EntryState.FAILED,
        "503",
        "Service Unavailable",
        False,
    )
    assert ledger.claim_due("sensor", now=START + 100) == []
    completed = ledger.mark_completed("rid-f", {"image_url": "u"})
    assert completed.state is EntryState.COMPLETED
    assert (completed.error_code, completed.error_message) == (None, None)


def test_reschedule_releases_the_lease_and_counts_polls(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-r", None, START)
    ledger.claim_due("sensor", now=START, lease_seconds=60)
    later = ledger.reschedule(entry.id, START + 30, 1)
    assert (later.next_poll_at, later.poll_count, later.lease_owner, later.lease_until) == (
        START + 30,
        1,
        None,
        None,
    )
    assert ledger.claim_due("other", now=START + 29) == []
    assert [e.id for e in ledger.claim_due("other", now=START + 30)] == [entry.id]


def test_unknown_entries_are_reported(ledger: Ledger) -> None:
    with pytest.raises(EntryNotFoundError, match="no ledger entry with id 999"):
        ledger.get(999)
    with pytest.raises(EntryNotFoundError, match="request_id 'nope'"):
        ledger.mark_completed("nope", {"image_url": "u"})
    assert ledger.by_request_id("nope") is None
    assert ledger.find("a", None, "0" * 64) is None

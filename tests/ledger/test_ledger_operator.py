"""Crash leftovers and operator actions: stuck submits, retry, abandon, listing."""

from __future__ import annotations

import pytest

from bria_dagster.ledger import EntryState, Ledger, LedgerStateError

from .ledger_support import START, FakeClock, submit


def test_stuck_submitting_finds_old_unanswered_submits(ledger: Ledger, clock: FakeClock) -> None:
    old = submit(ledger, "old")
    clock.advance(100)
    young = submit(ledger, "young")
    answered = submit(ledger, "answered")
    ledger.mark_submitted(answered.id, "rid-a", None, START)
    clock.advance(30)

    assert [e.id for e in ledger.stuck_submitting(60)] == [old.id]
    assert [e.id for e in ledger.stuck_submitting(10)] == [old.id, young.id]
    assert ledger.stuck_submitting(60, now=START + 50) == []
    # Stuck is reported, never resent: begin_submit does not hand the row out for a new POST.
    again = submit(ledger, "old")
    assert (again.id, again.submit_now, again.state) == (old.id, False, EntryState.SUBMITTING)


def test_ambiguous_submit_is_kept_until_an_operator_retries(
    ledger: Ledger, clock: FakeClock
) -> None:
    entry = submit(ledger, run_id="run-1")
    ambiguous = ledger.mark_ambiguous(entry.id, "read timeout after the body was sent")
    assert (ambiguous.state, ambiguous.error_message) == (
        EntryState.AMBIGUOUS,
        "read timeout after the body was sent",
    )
    held = submit(ledger, run_id="run-2")
    assert (held.id, held.submit_now, held.state) == (entry.id, False, EntryState.AMBIGUOUS)

    assert ledger.retry(entry.id).retryable is True
    clock.advance(5)
    rearmed = submit(ledger, run_id="run-3")
    assert (rearmed.id, rearmed.submit_now, rearmed.state, rearmed.attempts) == (
        entry.id,
        True,
        EntryState.SUBMITTING,
        2,
    )
    assert (rearmed.run_id, rearmed.retryable, rearmed.error_message) == ("run-3", False, None)
    assert rearmed.forced_generation == 0
    [earlier] = rearmed.history
    assert earlier["state"] == "ambiguous"
    assert earlier["run_id"] == "run-1"
    assert earlier["error_message"] == "read timeout after the body was sent"
    # Only the caller that re-armed the row sends.
    assert submit(ledger, run_id="run-4").submit_now is False


def test_retryable_failure_rearms_and_keeps_the_old_request_id(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-old", None, START)
    ledger.mark_failed(entry.id, 500, "internal error", retryable=True)
    rearmed = submit(ledger)
    assert (rearmed.submit_now, rearmed.request_id, rearmed.attempts) == (True, None, 2)
    assert rearmed.history[0]["request_id"] == "rid-old"
    assert ledger.by_request_id("rid-old") is None
    ledger.mark_submitted(rearmed.id, "rid-new", None, START)
    assert ledger.by_request_id("rid-new") is not None


def test_non_retryable_failure_is_returned_not_resent(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_failed(entry.id, 422, "moderated")
    again = submit(ledger)
    assert (again.submit_now, again.state, again.error_code) == (False, EntryState.FAILED, "422")
    ledger.retry(entry.id)
    assert submit(ledger).submit_now is True


def test_abandon(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-x", None, START)
    ledger.claim_due("sensor", now=START)
    abandoned = ledger.abandon(entry.id)
    assert (abandoned.state, abandoned.lease_owner, abandoned.next_poll_at) == (
        EntryState.ABANDONED,
        None,
        None,
    )
    assert ledger.abandon(entry.id) == abandoned
    assert ledger.claim_due("sensor", now=START + 1000) == []
    # A late webhook for an abandoned job changes nothing.
    assert ledger.mark_completed("rid-x", {"image_url": "u"}).state is EntryState.ABANDONED
    assert submit(ledger).submit_now is False
    assert submit(ledger, forced_generation=1).submit_now is True
    with pytest.raises(LedgerStateError, match="cannot retry"):
        ledger.retry(entry.id)


def test_a_stored_entry_cannot_be_abandoned(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-s", None, START)
    ledger.mark_completed(entry.id, {"image_url": "u"})
    ledger.mark_stored(entry.id, "file:///s.png", "a" * 64)
    with pytest.raises(LedgerStateError, match="is stored: cannot abandon"):
        ledger.abandon(entry.id)


def test_counts_and_list(ledger: Ledger) -> None:
    entries = [submit(ledger, f"p{i}", asset_key="a/b" if i % 2 else "c/d") for i in range(5)]
    for entry in entries[:3]:
        ledger.mark_submitted(entry.id, f"rid-{entry.id}", None, START)
    ledger.mark_failed(entries[0].id, "E1", "boom")

    counts = ledger.counts()
    assert counts[EntryState.PENDING] == 2
    assert counts[EntryState.SUBMITTING] == 2
    assert counts[EntryState.FAILED] == 1
    assert counts[EntryState.STORED] == 0
    assert set(counts) == set(EntryState)
    assert ledger.pending_count() == 2

    assert [e.id for e in ledger.list()] == [e.id for e in reversed(entries)]
    assert [e.id for e in ledger.list(state="pending")] == [entries[2].id, entries[1].id]
    assert [e.id for e in ledger.list(asset_key="a/b")] == [entries[3].id, entries[1].id]
    assert [e.id for e in ledger.list(EntryState.SUBMITTING, "c/d", limit=1)] == [entries[4].id]

"""reserve: a row waiting for its rate-limit slot is pending without a request_id, resumable by
anyone; it says ``submitting`` only once its request can leave."""

from __future__ import annotations

from bria_dagster.ledger import EntryState, Ledger, LedgerEntry, Reservation
from bria_dagster.ledger.ledger import RESERVE_BATCH

from .ledger_support import START, payload_hash, submit


def reserve(ledger: Ledger, run_id: str = "run-1") -> LedgerEntry:
    return ledger.reserve(
        "catalog/hero",
        "sku-1",
        "/v2/image/generate",
        payload_hash("cat"),
        {"prompt": "cat", "seed": 7},
        run_id,
    )


def test_a_reserved_row_is_pending_without_request_id_and_never_stuck(ledger: Ledger) -> None:
    entry = reserve(ledger)
    assert (entry.state, entry.request_id, entry.submit_now, entry.reserved) == (
        EntryState.PENDING,
        None,
        True,
        True,
    )
    assert ledger.stuck_submitting(0, now=START + 3600) == []
    assert ledger.claim_due("poller", now=START + 3600) == [], "nothing to poll yet"
    assert ledger.pending_count() == 0 and ledger.backlog(now=START + 3600) == (0, 0)


def test_a_reserved_row_left_by_a_dead_run_is_handed_to_the_next_one(ledger: Ledger) -> None:
    first = reserve(ledger, "run-1")
    again = reserve(ledger, "run-2")
    assert (again.id, again.submit_now, again.attempts) == (first.id, True, 1)


def test_begin_submit_turns_a_reserved_row_into_submitting_once(ledger: Ledger) -> None:
    entry = reserve(ledger)
    sending = submit(ledger, run_id="run-2")
    assert (sending.id, sending.state, sending.submit_now, sending.run_id) == (
        entry.id,
        EntryState.SUBMITTING,
        True,
        "run-2",
    )
    # A second holder of the reservation finds it taken and must not send.
    other = submit(ledger, run_id="run-3")
    assert (other.submit_now, other.state) == (False, EntryState.SUBMITTING)
    assert reserve(ledger).submit_now is False


def test_release_unsent_makes_the_row_reserved_again(ledger: Ledger) -> None:
    entry = reserve(ledger)
    submit(ledger)
    released = ledger.release_unsent(entry.id)
    assert released.reserved and released.attempts == 1
    assert ledger.release_unsent(entry.id).reserved  # again: nothing changes
    assert ledger.stuck_submitting(0, now=START + 3600) == []
    resent = submit(ledger)
    assert resent.submit_now and resent.state is EntryState.SUBMITTING
    done = ledger.mark_submitted(entry.id, "rid-1", None, START)
    assert done.state is EntryState.PENDING and not done.reserved


def test_a_retryable_failure_is_rearmed_as_reserved(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_failed(entry.id, 429, "rate limited", retryable=True)
    rearmed = reserve(ledger, "run-2")
    assert (rearmed.id, rearmed.reserved, rearmed.submit_now, rearmed.attempts) == (
        entry.id,
        True,
        True,
        2,
    )


def test_reserve_many_answers_as_reserve_does_in_order_over_several_transactions(
    ledger: Ledger,
) -> None:
    sent = submit(ledger)  # the "cat" row: already submitting, so not handed out again
    asks = [
        Reservation(
            "catalog/hero", f"sku-{i}", "/v2/image/generate", payload_hash(f"p{i}"), {}, "r"
        )
        for i in range(RESERVE_BATCH + 5)
    ]
    asks.insert(
        3, Reservation("catalog/hero", "sku-1", "/v2/image/generate", payload_hash("cat"), {}, "r")
    )
    entries = ledger.reserve_many(asks)
    assert [(e.partition_key, e.payload_hash) for e in entries] == [
        (a.partition_key, a.payload_hash) for a in asks
    ]
    fresh = entries[:3] + entries[4:]
    assert all(e.reserved and e.submit_now for e in fresh)
    assert len({e.id for e in fresh}) == len(fresh)
    assert (entries[3].id, entries[3].submit_now) == (sent.id, False)
    again = ledger.reserve_many(asks[:2])  # a dead run's reservations go to the next one
    assert [e.id for e in again] == [e.id for e in entries[:2]] and again[0].submit_now

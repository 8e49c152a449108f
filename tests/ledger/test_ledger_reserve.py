"""reserve: a row waiting for its rate-limit slot is pending without a request_id, resumable by
anyone; it says ``submitting`` only once its request can leave."""

from __future__ import annotations

from bria_dagster.ledger import EntryState, Ledger, LedgerEntry

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

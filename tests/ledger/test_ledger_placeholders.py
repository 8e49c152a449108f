"""mark_submitted with a v1 answer of placeholder URLs: kept with the pending row, in one write."""

from __future__ import annotations

import pytest

from bria_dagster.ledger import EntryState, Ledger, LedgerStateError

from .ledger_support import START, submit

ANSWER = {"request_id": "sync-1-abc", "raw": {"result": [{"url": "https://h/files/a.png"}]}}


def test_the_answer_is_kept_with_the_pending_row_and_completed_later(ledger: Ledger) -> None:
    entry = submit(ledger)
    kept = ledger.mark_submitted(
        entry.id, "sync-1-abc", None, START + 90, result=ANSWER, result_url="https://h/files/a.png"
    )
    assert (kept.state, kept.request_id, kept.next_poll_at) == (
        EntryState.PENDING,
        "sync-1-abc",
        START + 90,
    )
    assert kept.result == ANSWER and kept.result_url == "https://h/files/a.png"
    again = submit(ledger)  # a re-run finds the URLs instead of sending the request again
    assert again.submit_now is False and again.result == ANSWER
    repeated = ledger.mark_submitted(entry.id, "sync-1-abc", None, START, result=ANSWER)
    assert repeated == ledger.get(entry.id)
    done = ledger.mark_completed(entry.id, ANSWER, "https://h/files/a.png")
    assert done.state is EntryState.COMPLETED and done.result == ANSWER


def test_only_a_submitting_row_takes_placeholders(ledger: Ledger) -> None:
    entry = submit(ledger)
    ledger.mark_submitted(entry.id, "rid-1", None, START)
    with pytest.raises(LedgerStateError):
        ledger.mark_submitted(entry.id, "sync-other", None, START, result=ANSWER)

"""Grouped writes: many jobs' writes in one transaction, each still all-or-nothing on its own."""

from __future__ import annotations

import asyncio
import functools

import pytest

from bria_dagster.ledger import (
    BudgetExceededError,
    EntryNotFoundError,
    EntryState,
    Ledger,
    LedgerStateError,
    Reservation,
    SpendCaps,
)
from bria_dagster.ledger.grouped import GroupedWrites

from .ledger_support import payload_hash


def _reservations(count: int) -> list[Reservation]:
    return [
        Reservation(
            "catalog/hero",
            f"sku-{i}",
            "/v2/image/generate",
            payload_hash(f"cat {i}"),
            {"prompt": f"cat {i}"},
            "run-1",
        )
        for i in range(count)
    ]


def test_write_each_answers_each_write_and_rolls_back_only_the_one_that_failed(
    ledger: Ledger,
) -> None:
    first, second, third = ledger.reserve_many(_reservations(3))
    answers = ledger.write_each(
        [
            functools.partial(ledger.begin_submit, *_reservations(3)[0]),
            # Not submitting yet: refused, and nothing of it is kept.
            functools.partial(ledger.mark_submitted, second.id, "req-2", None, 0.0),
            functools.partial(ledger.begin_submit, *_reservations(3)[2]),
        ]
    )
    assert isinstance(answers[1], LedgerStateError)
    assert [a.state for a in (answers[0], answers[2]) if not isinstance(a, Exception)] == [
        EntryState.SUBMITTING,
        EntryState.SUBMITTING,
    ]
    assert ledger.get(first.id).state is EntryState.SUBMITTING
    assert ledger.get(third.id).state is EntryState.SUBMITTING
    untouched = ledger.get(second.id)
    assert (untouched.state, untouched.request_id) == (EntryState.PENDING, None)


def test_a_capped_write_in_a_group_is_refused_alone_and_not_billed(ledger: Ledger) -> None:
    requests = _reservations(3)
    entries = ledger.reserve_many(requests)
    caps = SpendCaps(per_run=2)
    answers = ledger.write_each(
        [functools.partial(ledger.begin_submit, *request, caps=caps) for request in requests]
    )
    assert [isinstance(a, BudgetExceededError) for a in answers] == [False, False, True]
    assert [ledger.get(e.id).state for e in entries] == [
        EntryState.SUBMITTING,
        EntryState.SUBMITTING,
        EntryState.PENDING,
    ]
    assert ledger.billed_per_entry(e.id for e in entries) == {entries[0].id: 1, entries[1].id: 1}


def test_concurrent_writes_share_commits_and_each_caller_gets_its_own_answer(
    ledger: Ledger,
) -> None:
    requests = _reservations(40)
    entries = ledger.reserve_many(requests)
    writes = GroupedWrites(ledger)

    async def send_all() -> list[EntryState]:
        claimed = await asyncio.gather(
            *(
                writes.run(functools.partial(ledger.begin_submit, *request), urgent=True)
                for request in requests
            )
        )
        recorded = await asyncio.gather(
            *(
                writes.run(functools.partial(ledger.mark_submitted, e.id, f"req-{e.id}", None, 0.0))
                for e in claimed
            )
        )
        return [e.state for e in recorded]

    assert asyncio.run(send_all()) == [EntryState.PENDING] * len(requests)
    assert writes.writes == 2 * len(requests)
    assert writes.commits < writes.writes, "the writes queued together share a commit"
    assert {ledger.get(e.id).request_id for e in entries} == {f"req-{e.id}" for e in entries}


def test_an_error_of_a_write_reaches_its_caller(ledger: Ledger) -> None:
    writes = GroupedWrites(ledger)
    with pytest.raises(EntryNotFoundError):
        writes.call(functools.partial(ledger.mark_stored, 12345, "file:///x", "a" * 64))

"""begin_submit: one row per request, found again instead of sent again."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bria_dagster.ledger import DuplicateRequestIdError, EntryState, Ledger, LedgerEntry

from .ledger_support import START, Target, payload_hash, submit


def test_begin_submit_returns_the_existing_row(ledger: Ledger) -> None:
    first = submit(ledger, run_id="run-1")
    again = submit(ledger, run_id="run-2")
    assert again.id == first.id
    assert again.submit_now is False
    assert (again.state, again.run_id, again.attempts) == (EntryState.SUBMITTING, "run-1", 1)

    ledger.mark_submitted(first.id, "rid-1", None, START)
    resumed = submit(ledger, run_id="run-3")
    assert (resumed.id, resumed.state, resumed.request_id, resumed.submit_now) == (
        first.id,
        EntryState.PENDING,
        "rid-1",
        False,
    )
    assert ledger.find("catalog/hero", "sku-1", payload_hash("cat")) == ledger.get(first.id)
    assert ledger.counts()[EntryState.PENDING] == 1


def test_endpoints_are_stored_as_paths(ledger: Ledger) -> None:
    entry = ledger.begin_submit("a/b", None, "image/generate", payload_hash("e"), {}, None)
    assert entry.endpoint == "/v2/image/generate"


def test_the_key_is_asset_partition_payload_and_generation(ledger: Ledger) -> None:
    base = submit(ledger)
    others = [
        submit(ledger, asset_key="catalog/other"),
        submit(ledger, partition_key="sku-2"),
        submit(ledger, partition_key=None),
        submit(ledger, "dog"),
        submit(ledger, forced_generation=1),
    ]
    assert all(entry.submit_now for entry in others)
    assert len({base.id, *(entry.id for entry in others)}) == 6
    # An unpartitioned request is found again like any other.
    unpartitioned = submit(ledger, partition_key=None)
    assert (unpartitioned.id, unpartitioned.submit_now) == (others[2].id, False)
    assert ledger.find("catalog/hero", None, payload_hash("cat")) == ledger.get(others[2].id)
    assert ledger.find("catalog/hero", "sku-1", payload_hash("cat"), 1) == ledger.get(others[4].id)


def test_request_ids_are_unique(ledger: Ledger) -> None:
    first = submit(ledger, "one")
    second = submit(ledger, "two")
    ledger.mark_submitted(first.id, "rid-same", None, START)
    with pytest.raises(DuplicateRequestIdError, match="rid-same"):
        ledger.mark_submitted(second.id, "rid-same", None, START)
    assert ledger.get(second.id).state is EntryState.SUBMITTING
    assert ledger.get(second.id).request_id is None
    assert ledger.by_request_id("rid-same") == ledger.get(first.id)


def test_concurrent_begin_submit_lets_exactly_one_caller_send(target: Target) -> None:
    workers = 6
    ledgers = [target.open() for _ in range(workers)]  # one engine each, like separate processes
    barrier = threading.Barrier(workers)

    def race(ledger: Ledger) -> LedgerEntry:
        barrier.wait(timeout=30)
        return submit(ledger, "race")

    try:
        with ThreadPoolExecutor(workers) as pool:
            entries = list(pool.map(race, ledgers))
    finally:
        for opened in ledgers:
            opened.dispose()
    assert sum(entry.submit_now for entry in entries) == 1
    assert len({entry.id for entry in entries}) == 1

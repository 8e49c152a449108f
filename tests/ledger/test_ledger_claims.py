"""claim_due: due work, most overdue first, leased so that two pollers never work the same row."""

from __future__ import annotations

import multiprocessing
import random

from bria_dagster.ledger import Ledger, PendingRow

from .ledger_support import (
    START,
    FakeClock,
    Target,
    claim_until_empty,
    payload_hash,
    submit,
)


def pending_rows(count: int, *, seed: int = 1) -> list[PendingRow]:
    """``count`` submitted requests, submitted over the last hour in shuffled order."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [
        PendingRow(
            asset_key="bench/images",
            partition_key=f"sku-{i}",
            endpoint="/v2/image/generate",
            payload_hash=payload_hash(f"p{i}"),
            request_id=f"rid-{i}",
            status_url=f"http://127.0.0.1/v2/status/rid-{i}",
            submitted_at=START - 3600 + position * 0.25,
            next_poll_at=START - 1,
            request_summary={"prompt": f"p{i}"},
        )
        for position, i in zip(order, range(count), strict=True)
    ]


def test_claims_most_overdue_first_then_oldest(ledger: Ledger, clock: FakeClock) -> None:
    ids = []
    for name, submitted_at, next_poll in [
        ("late", START - 10, START - 1),
        ("early", START - 50, START - 1),
        ("not-due", START - 90, START + 60),
        ("middle", START - 30, START),
    ]:
        clock.now = submitted_at  # mark_submitted stamps submitted_at from the clock
        entry = submit(ledger, name)
        ledger.mark_submitted(entry.id, f"rid-{name}", None, next_poll)
        ids.append(entry.id)
    claimed = ledger.claim_due("sensor", now=START, limit=10, lease_seconds=600)
    # early and late are both due since START - 1 (oldest first); middle only since START.
    assert [e.id for e in claimed] == [ids[1], ids[0], ids[3]]
    assert [e.submitted_at for e in claimed] == [START - 50, START - 10, START - 30]
    assert [e.id for e in ledger.claim_due("other", now=START + 60, limit=10)] == [ids[2]]


def test_a_live_lease_blocks_others_and_an_expired_one_does_not(ledger: Ledger) -> None:
    assert ledger.bulk_insert_pending(pending_rows(5)) == 5
    first = ledger.claim_due("sensor-a", now=START, limit=3, lease_seconds=30)
    assert len(first) == 3
    assert {e.lease_owner for e in first} == {"sensor-a"}

    second = ledger.claim_due("sensor-b", now=START + 10, limit=10, lease_seconds=100)
    assert len(second) == 2
    assert not {e.id for e in first} & {e.id for e in second}
    assert ledger.claim_due("sensor-c", now=START + 20, limit=10) == []

    # The owner renews its own live leases (a restarted sensor with a stable name).
    renewed = ledger.claim_due("sensor-a", now=START + 20, limit=10, lease_seconds=30)
    assert {e.id for e in renewed} == {e.id for e in first}
    assert {e.lease_until for e in renewed} == {START + 50}

    # sensor-a dies; once its leases run out another owner takes the rows over.
    assert ledger.claim_due("sensor-c", now=START + 49, limit=10) == []
    taken = ledger.claim_due("sensor-c", now=START + 50, limit=10, lease_seconds=30)
    assert {e.id for e in taken} == {e.id for e in first}
    assert {e.lease_owner for e in taken} == {"sensor-c"}


def test_two_processes_never_claim_the_same_row(target: Target, ledger: Ledger) -> None:
    total = 300
    ledger.bulk_insert_pending(pending_rows(total))
    context = multiprocessing.get_context("spawn")  # fresh interpreters, own engines
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=claim_until_empty,
            args=(target.url, target.schema, owner, START, start, results),
        )
        for owner in ("proc-a", "proc-b")
    ]
    for worker in workers:
        worker.start()
    try:
        claims = dict(results.get(timeout=120) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]
    claimed_a, claimed_b = claims["proc-a"], claims["proc-b"]
    assert not set(claimed_a) & set(claimed_b)
    assert len(claimed_a) + len(claimed_b) == total
    if target.backend != "sqlite":
        # SQLite serialises writers: one process may legitimately drain the queue alone.
        assert claimed_a and claimed_b, "both processes should have found work"
    entries = ledger.list(state="pending", limit=total)
    assert len(entries) == total
    assert {e.poll_count for e in entries} == {1}  # each row worked exactly once


def test_claims_500_of_10000_pending(target: Target, ledger: Ledger) -> None:
    rows = pending_rows(10_000)
    assert ledger.bulk_insert_pending(rows) == 10_000
    assert ledger.pending_count() == 10_000

    claimed = ledger.claim_due("sensor-a", now=START, limit=500, lease_seconds=60)
    oldest = sorted(rows, key=lambda row: row.submitted_at)
    assert [e.request_id for e in claimed] == [row.request_id for row in oldest[:500]]
    more = ledger.claim_due("sensor-b", now=START, limit=500, lease_seconds=60)
    assert [e.request_id for e in more] == [row.request_id for row in oldest[500:1000]]

    entry = ledger.by_request_id("rid-4321")
    assert entry is not None
    assert ledger.find("bench/images", "sku-4321", payload_hash("p4321")) == entry
    _assert_lookups_use_indexes(target)


def _assert_lookups_use_indexes(target: Target) -> None:
    """The lookups the ledger makes on every submit and webhook are served by its indexes."""
    engine = target.admin_engine()
    lookup = (
        "SELECT id FROM bria_requests WHERE asset_key = 'bench/images'"
        " AND coalesce(partition_key, '') = 'sku-1' AND payload_hash = 'x'"
        " AND forced_generation = 0"
    )
    by_request = "SELECT id FROM bria_requests WHERE request_id = 'rid-1'"
    try:
        with engine.connect() as conn:
            if target.backend == "postgresql":
                conn.exec_driver_sql(f"SET search_path TO {target.schema}")
                conn.exec_driver_sql("ANALYZE bria_requests")
                explain = "EXPLAIN "
            else:
                explain = "EXPLAIN QUERY PLAN "
            plans = [
                " ".join(str(part) for row in conn.exec_driver_sql(explain + sql) for part in row)
                for sql in (lookup, by_request)
            ]
    finally:
        engine.dispose()
    assert "uq_bria_requests_lookup" in plans[0]
    assert "uq_bria_requests_request_id" in plans[1]

"""Helpers shared by the ledger tests (and by the worker processes they spawn)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import sqlalchemy as sa

from bria_dagster.ledger import Ledger, LedgerEntry

PG_URL = os.environ.get(
    "BRIA_LEDGER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = 1_700_000_000.0


class FakeClock:
    """A settable epoch clock, so tests control every timestamp the ledger writes."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass(frozen=True)
class Target:
    """Where a test's ledger lives; ``open`` makes another, independent Ledger (own engine)."""

    backend: str
    url: str
    schema: str | None

    def open(self, clock: Callable[[], float] | None = None) -> Ledger:
        if clock is None:
            return Ledger.from_url(self.url, schema=self.schema)
        return Ledger.from_url(self.url, schema=self.schema, clock=clock)

    def admin_engine(self) -> sa.Engine:
        """A plain engine on the same database (for EXPLAIN and direct checks)."""
        engine = sa.create_engine(self.url)
        if self.schema:
            engine = engine.execution_options(schema_translate_map={None: self.schema})
        return engine


def payload_hash(text: str) -> str:
    """A valid payload hash derived from ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()


def submit(
    ledger: Ledger,
    name: str = "cat",
    *,
    asset_key: str = "catalog/hero",
    partition_key: str | None = "sku-1",
    forced_generation: int = 0,
    run_id: str | None = "run-1",
) -> LedgerEntry:
    """begin_submit for a request identified by ``name``."""
    return ledger.begin_submit(
        asset_key,
        partition_key,
        "/v2/image/generate",
        payload_hash(name),
        {"prompt": name, "seed": 7},
        run_id,
        forced_generation=forced_generation,
    )


def claim_until_empty(
    url: str, schema: str | None, owner: str, now: float, start: Barrier, results: Queue[Any]
) -> None:
    """Worker process body: claim small batches and push each claimed row far into the future.

    Puts ``(owner, claimed ids)`` on ``results``.

    Every row is claimed by exactly one worker if claims never overlap: each claimed row is
    rescheduled with ``poll_count + 1``, so a row claimed twice ends with poll_count 2.
    """
    ledger = Ledger.from_url(url, schema=schema)
    claimed: list[int] = []
    try:
        start.wait(60)  # both workers are up and connected
        while batch := ledger.claim_due(owner, now=now, limit=7, lease_seconds=600):
            time.sleep(0.005)  # the status calls a poller makes between claim and reschedule
            for entry in batch:
                ledger.reschedule(entry.id, now + 10_000, entry.poll_count + 1)
                claimed.append(entry.id)
    finally:
        ledger.dispose()
    results.put((owner, claimed))

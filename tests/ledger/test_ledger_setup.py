"""Opening a ledger, sharing it between processes, and refusing bad input before any SQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import Ledger, PendingRow
from bria_dagster.ledger.schema import bria_requests

from .ledger_support import PG_URL, START, Target, payload_hash, submit

HASH = payload_hash("x")


def test_the_table_is_created_once_and_shared(target: Target, ledger: Ledger) -> None:
    entry = submit(ledger)
    second = target.open()  # a second process's view: create_all finds the table in place
    try:
        assert second.get(entry.id) == ledger.get(entry.id)
    finally:
        second.dispose()
    engine = target.admin_engine()
    try:
        with engine.connect() as conn:
            if target.backend == "sqlite":
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
                assert mode == "wal"  # readers never block the writer across processes
            else:
                where = conn.exec_driver_sql(
                    "SELECT table_schema FROM information_schema.tables"
                    " WHERE table_name = 'bria_requests'"
                ).scalars()
                assert target.schema in set(where)
    finally:
        engine.dispose()


def test_a_writer_waits_for_another_connection_instead_of_failing(
    target: Target, ledger: Ledger
) -> None:
    engine = target.admin_engine()
    released = threading.Event()
    try:
        with engine.connect() as blocker:
            if target.backend == "sqlite":
                blocker.exec_driver_sql("BEGIN IMMEDIATE")  # holds the database's write lock
            else:
                blocker.exec_driver_sql(
                    f"LOCK TABLE {target.schema}.bria_requests IN EXCLUSIVE MODE"
                )

            def release() -> None:
                released.set()
                blocker.commit()

            timer = threading.Timer(0.3, release)
            timer.start()
            entry = submit(ledger)  # blocks on the lock until the timer commits
            timer.join()
        assert released.is_set()
        assert entry.submit_now is True
    finally:
        engine.dispose()


def test_the_sqlite_folder_is_created(tmp_path: Path) -> None:
    ledger = Ledger.from_url(f"sqlite:///{tmp_path / 'deep' / 'er' / 'ledger.db'}")
    try:
        assert submit(ledger).id == 1
        assert (tmp_path / "deep" / "er" / "ledger.db").is_file()
    finally:
        ledger.dispose()


def test_postgres_url_without_driver_means_psycopg(pg_schema: str) -> None:
    ledger = Ledger.from_url(
        PG_URL.replace("postgresql+psycopg://", "postgresql://"), schema=pg_schema
    )
    try:
        assert repr(ledger).startswith("Ledger(postgresql+psycopg://")
        assert ledger.pending_count() == 0
    finally:
        ledger.dispose()


@pytest.mark.parametrize(
    ("url", "schema", "field", "message"),
    [
        ("mysql://h/db", None, "url", "not supported"),
        ("sqlite://", None, "url", "needs a file path"),
        ("sqlite:///:memory:", None, "url", "needs a file path"),
        ("not a url", None, "url", "must look like"),
        ("postgresql+psycopg2://h/db", None, "url", "psycopg 3"),
        ("sqlite:///x.db", "s", "schema", "only PostgreSQL"),
        ("postgresql://h/db", "bad-name;drop", "schema", "plain identifier"),
    ],
)
def test_bad_urls_are_refused(url: str, schema: str | None, field: str, message: str) -> None:
    with pytest.raises(BriaInputError, match=message) as raised:
        Ledger.from_url(url, schema=schema)
    assert raised.value.field == field


def test_the_password_never_shows() -> None:
    url = "postgresql+psycopg://bria:s3cret-token@127.0.0.1:1/test"
    ledger = Ledger.from_url(url, create=False)
    try:
        assert "s3cret-token" not in repr(ledger)
        assert "***" in repr(ledger)
    finally:
        ledger.dispose()


def _call(ledger: Ledger, name: str, **kwargs: Any) -> Any:
    return getattr(ledger, name)(**kwargs)


GOOD: dict[str, Any] = {
    "asset_key": "a/b",
    "partition_key": None,
    "endpoint": "/v2/image/generate",
    "payload_hash": HASH,
    "summary": {},
    "run_id": None,
}


@pytest.mark.parametrize(
    ("method", "kwargs", "field"),
    [
        ("begin_submit", {**GOOD, "asset_key": ""}, "asset_key"),
        ("begin_submit", {**GOOD, "partition_key": ""}, "partition_key"),
        ("begin_submit", {**GOOD, "payload_hash": "ABC"}, "payload_hash"),
        ("begin_submit", {**GOOD, "summary": {"x": object()}}, "summary"),
        ("begin_submit", {**GOOD, "summary": {"b64": "A" * 70_000}}, "summary"),
        ("begin_submit", {**GOOD, "forced_generation": -1}, "forced_generation"),
        ("begin_submit", {**GOOD, "run_id": 7}, "run_id"),
        ("begin_submit", {**GOOD, "endpoint": "http://h/v2/x"}, "endpoint"),
        (
            "mark_submitted",
            {"entry_id": 0, "request_id": "r", "status_url": None, "next_poll_at": START},
            "entry_id",
        ),
        (
            "mark_submitted",
            {"entry_id": 1, "request_id": "", "status_url": None, "next_poll_at": START},
            "request_id",
        ),
        (
            "mark_submitted",
            {"entry_id": 1, "request_id": "r", "status_url": None, "next_poll_at": float("inf")},
            "next_poll_at",
        ),
        ("claim_due", {"owner": "o", "limit": 0}, "limit"),
        ("claim_due", {"owner": "o", "lease_seconds": 0}, "lease_seconds"),
        ("claim_due", {"owner": " "}, "owner"),
        ("reschedule", {"entry_id": True, "next_poll_at": START, "poll_count": 1}, "entry_id"),
        ("mark_completed", {"ref": 1, "result": ["not", "a", "dict"]}, "result"),
        ("mark_completed", {"ref": 1.5, "result": {}}, "ref"),
        ("mark_failed", {"entry_id": 1, "code": 1.5, "message": None}, "code"),
        ("mark_failed", {"entry_id": 1, "code": 1, "message": None, "retryable": 1}, "retryable"),
        ("mark_stored", {"entry_id": 1, "storage_uri": "file:///x", "sha256": "x"}, "sha256"),
        ("mark_reported", {"entry_ids": [1, -2]}, "entry_ids"),
        ("stuck_submitting", {"older_than_seconds": -1}, "older_than_seconds"),
        ("list", {"state": "lost"}, "state"),
        ("list", {"limit": 0}, "limit"),
        ("bulk_insert_pending", {"pending": [object()]}, "pending[0]"),
    ],
)
def test_bad_arguments_name_the_field_and_write_nothing(
    ledger: Ledger, method: str, kwargs: dict[str, Any], field: str
) -> None:
    entry = submit(ledger)
    before = ledger.get(entry.id)
    with pytest.raises(BriaInputError) as raised:
        _call(ledger, method, **kwargs)
    assert raised.value.field == field
    assert ledger.get(entry.id) == before
    assert sum(ledger.counts().values()) == 1


def test_a_bad_bulk_row_is_named_and_nothing_is_inserted(ledger: Ledger) -> None:
    good = PendingRow("a/b", None, "/v2/image/generate", HASH, "rid-1", START, START)
    bad = PendingRow("a/b", "p", "/v2/image/generate", HASH, "rid-2", START, -5)
    with pytest.raises(BriaInputError) as raised:
        ledger.bulk_insert_pending([good, bad])
    assert raised.value.field == "pending[1].next_poll_at"
    assert ledger.pending_count() == 0


def test_times_are_wall_clock_epoch_seconds_by_default(target: Target) -> None:
    ledger = target.open()
    engine = target.admin_engine()
    try:
        before = time.time()
        entry = submit(ledger)
        assert before <= entry.created_at <= time.time()
        with engine.connect() as conn:
            stored = conn.execute(sa.select(bria_requests.c.created_at)).scalar_one()
        assert isinstance(stored, float)
        assert stored == entry.created_at
    finally:
        ledger.dispose()
        engine.dispose()

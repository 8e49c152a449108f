"""Fixtures: every ledger test runs on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL is this machine's server (``BRIA_LEDGER_TEST_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the session works in a schema of its own,
created here and dropped at the end, so parallel sessions never meet.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bria_dagster.ledger import Ledger

from .ledger_support import PG_URL, FakeClock, Target


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    name = f"ledger_test_{os.getpid()}_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(name, cascade=True))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "sqlite":
        return Target("sqlite", f"sqlite:///{tmp_path / 'ledger.db'}", None)
    schema: str = request.getfixturevalue("pg_schema")
    found = Target("postgresql", PG_URL, schema)
    engine = found.admin_engine()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.bria_requests, {schema}.bria_spend")
    engine.dispose()
    return found


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(target: Target, clock: FakeClock) -> Iterator[Ledger]:
    opened = target.open(clock)
    try:
        yield opened
    finally:
        opened.dispose()

"""Engines for the ledger's two backends: a SQLite file or a PostgreSQL server (psycopg 3).

SQLite runs in WAL mode with a busy timeout so that several processes (the Dagster daemon, run
workers, a sensor) can share one file. SQLAlchemy emits ``BEGIN`` itself (the sqlite3 driver's
own transaction handling is switched off): a connection carrying the ``ledger_write`` execution
option starts ``BEGIN IMMEDIATE``, which takes the write lock up front, so a read-then-write
transaction never loses a race; readers use a plain ``BEGIN`` and never block under WAL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from bria_dagster.client.errors import BriaInputError

WRITE_OPTION = "ledger_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def parse_url(url: str | URL) -> URL:
    """Parse and check a ledger URL; ``postgresql://`` means ``postgresql+psycopg://``."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise BriaInputError(
            "url", "must look like sqlite:///path/ledger.db or postgresql+psycopg://host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername != "sqlite" and parsed.get_driver_name() != "pysqlite":
            raise BriaInputError("url", "SQLite ledgers use the standard driver: sqlite:///path")
        if not parsed.database or parsed.database == ":memory:" or "mode=memory" in str(parsed):
            raise BriaInputError(
                "url", "a SQLite ledger needs a file path: sqlite:///path/ledger.db"
            )
        return parsed
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            return parsed.set(drivername="postgresql+psycopg")
        if parsed.get_driver_name() != "psycopg":
            raise BriaInputError("url", "PostgreSQL ledgers use psycopg 3: postgresql+psycopg://")
        return parsed
    raise BriaInputError(
        "url", f"backend {backend!r} is not supported; use sqlite:/// or postgresql+psycopg://"
    )


def check_schema(schema: str | None, url: URL) -> str | None:
    """A PostgreSQL schema name, or None."""
    if schema is None:
        return None
    if url.get_backend_name() != "postgresql":
        raise BriaInputError("schema", "only PostgreSQL ledgers can be placed in a schema")
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        raise BriaInputError("schema", "must be a plain identifier: letters, digits, underscores")
    return schema


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, see _on_begin
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_ledger_engine(url: URL, *, schema: str | None = None) -> Engine:
    """An engine for a URL checked by :func:`parse_url`; ``schema`` retargets the table."""
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    if schema is not None:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine

"""Fixtures: the emulator (shared with the e2e tests) and a crash site per test, on a SQLite
ledger and on this machine's PostgreSQL (a schema of the test's own)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bria_dagster.emulator import EmulatorServer
from tests.crash.harness import CrashSite
from tests.crash.workspace import CrashWorkspace, make_instance
from tests.e2e.conftest import FAST_CLIENT, bria_emulator_config  # noqa: F401  (its emulator)
from tests.ledger.ledger_support import PG_URL


@pytest.fixture
def pg_test_schema() -> Iterator[str]:
    """A PostgreSQL schema for one test, dropped at its end."""
    name = f"crash_{os.getpid()}_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(name, cascade=True))
        engine.dispose()


@pytest.fixture(scope="session")
def instance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty Dagster instance folder each test copies (its databases made once)."""
    home = tmp_path_factory.mktemp("crash_instance") / "dagster_home"
    make_instance(home)
    return home


@pytest.fixture(params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: EmulatorServer,
    instance_template: Path,
) -> CrashSite:
    """The shared instance folder, store, ledger and cursor file of one test's processes."""
    url = schema = None
    if request.param == "postgresql":
        url, schema = PG_URL, request.getfixturevalue("pg_test_schema")
    workspace = CrashWorkspace.create(
        tmp_path / "site", emulator.base_url, url, schema, FAST_CLIENT, instance_template
    )
    path = tmp_path / "workspace.json"
    workspace.save(path)
    return CrashSite(workspace, path, token=f"crash-{uuid.uuid4().hex}")

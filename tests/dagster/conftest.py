"""Fixtures for the Dagster layer: the emulator, a real instance, storage on file:// and S3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from bria_dagster.assets import BriaImageIOManager
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from tests.e2e.conftest import FAST_CLIENT, bria_emulator_config  # noqa: F401  (its emulator)
from tests.ledger.conftest import pg_schema  # noqa: F401
from tests.ledger.ledger_support import PG_URL
from tests.storage.seaweedfs import S3Endpoint, seaweedfs  # noqa: F401


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real, persistent Dagster instance in a temp folder (SQLite event log, runs, schedules)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def api_token(monkeypatch: pytest.MonkeyPatch) -> str:
    """A distinctive token, set as BRIA_API_TOKEN for the resource to read at execution."""
    token = f"tok-{uuid.uuid4().hex}-secret"
    monkeypatch.setenv("BRIA_API_TOKEN", token)
    return token


@pytest.fixture(params=["file", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BriaStorageResource:
    """The storage resource on a local folder and on a real SeaweedFS S3 server."""
    if request.param == "file":
        return BriaStorageResource(uri=(tmp_path / "images").as_uri())
    endpoint: S3Endpoint = request.getfixturevalue("seaweedfs")
    return BriaStorageResource(
        uri=f"s3://{endpoint.bucket}/run-{uuid.uuid4().hex[:8]}",
        endpoint_url=endpoint.endpoint_url,
        access_key_id=endpoint.key,
        secret_access_key=endpoint.secret,
        region=endpoint.region,
    )


@pytest.fixture
def bria_fields(emulator: Any, api_token: str) -> dict[str, Any]:
    """BriaResource fields for the emulator: token from the environment, fast polling."""
    return {
        "api_token": dg.EnvVar("BRIA_API_TOKEN"),
        "base_url": emulator.base_url,
        **{k: v for k, v in FAST_CLIENT.items() if k in BriaResource.model_fields},
    }


@pytest.fixture(params=["sqlite"])
def ledger_resource(request: pytest.FixtureRequest, tmp_path: Path) -> BriaLedgerResource:
    """The ledger on SQLite (default) or, parametrized indirectly, on this machine's PostgreSQL
    in a schema of its own."""
    if request.param == "sqlite":
        return BriaLedgerResource(url=f"sqlite:///{tmp_path / 'ledger.db'}")
    schema: str = request.getfixturevalue("pg_schema")
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.bria_requests, {schema}.bria_spend")
    engine.dispose()
    return BriaLedgerResource(url=PG_URL, db_schema=schema)


@pytest.fixture
def resources(
    bria_fields: dict[str, Any],
    storage: BriaStorageResource,
    ledger_resource: BriaLedgerResource,
) -> dict[str, Any]:
    """The three Bria resources, pointed at the emulator, with fast polling, and the IO manager
    plain downstream assets load Bria images through."""
    bria = BriaResource(**bria_fields)
    ledger = ledger_resource
    return {
        "bria": bria,
        "bria_storage": storage,
        "bria_ledger": ledger,
        "bria_io_manager": BriaImageIOManager(storage=storage),
    }

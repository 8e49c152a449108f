"""Fixtures: a real emulator, a real receiver (uvicorn on 127.0.0.1) and a ledger on both backends.

The ledger fixtures come from ``tests/ledger/conftest.py``: every test that uses ``ledger`` runs
once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bria_dagster.client import BriaClient
from bria_dagster.emulator import EmulatorConfig, EmulatorServer
from bria_dagster.ledger import Ledger
from bria_dagster.webhooks import WebhookServer, create_webhook_app
from tests.ledger.conftest import pg_schema, target  # noqa: F401  (SQLite + PostgreSQL)
from tests.ledger.ledger_support import Target

FAST_CLIENT: dict[str, Any] = {
    "rate_limit_backend": "memory",
    "plan": "pro",
    "retry_base_delay_s": 0.01,
    "retry_max_delay_s": 0.5,
}

# Jobs take 0.3 s, long enough for the submitter to record the request_id before the webhook.
EMULATOR = EmulatorConfig(
    output_megapixels=0.03,
    latency={"*": "fixed:0.3"},
    seed=11,
    webhook_retry_delays_s=(0.2, 0.5),
)


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator of these tests (the fixtures are the plugin's, see tests/conftest.py)."""
    return EMULATOR


@pytest.fixture
def token() -> str:
    return f"wh-{uuid.uuid4().hex}"


@pytest.fixture
def ledger(target: Target) -> Iterator[Ledger]:  # noqa: F811
    """A ledger on the wall clock (the receiver and the emulator run in real time)."""
    opened = target.open()
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def receiver(ledger: Ledger, token: str) -> Iterator[WebhookServer]:
    app = create_webhook_app(ledger, token, unknown_grace_seconds=0.3)
    with WebhookServer(app) as server:
        yield server


@pytest.fixture
def bria(emulator: EmulatorServer, token: str) -> Iterator[BriaClient]:
    with BriaClient(api_token=token, base_url=emulator.base_url, **FAST_CLIENT) as client:
        yield client

"""Fixtures of the catalog tests: the real clients with the catalog mixin, on a loopback fake."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient

from .fake_bria import FakeBria

FAST: dict[str, Any] = {
    "rate_limit_backend": "memory",
    "requests_per_minute": 100_000,
    "poll_first_factor": 0.001,
    "poll_interval_s": 0.01,
    "poll_max_interval_s": 0.02,
    "poll_jitter": 0.0,
    "retry_base_delay_s": 0.01,
    "retry_max_delay_s": 0.1,
    "max_attempts": 2,
}
"""Client settings that keep the tests quick."""


CatalogClient = BriaClient
"""The blocking client (it carries the grouped namespaces)."""

AsyncCatalogClient = AsyncBriaClient
"""The async client (it carries the grouped namespaces)."""


@pytest.fixture(scope="session")
def _fake() -> Iterator[FakeBria]:
    server = FakeBria()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def token() -> str:
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def fake(_fake: FakeBria, token: str) -> FakeBria:
    """The loopback fake, emptied and accepting this test's token."""
    _fake.reset(token)
    return _fake


@pytest.fixture
def client(fake: FakeBria, token: str) -> Iterator[CatalogClient]:
    with CatalogClient(api_token=token, base_url=fake.url, **FAST) as bria:
        yield bria


@pytest.fixture
async def aclient(fake: FakeBria, token: str) -> AsyncIterator[AsyncCatalogClient]:
    async with AsyncCatalogClient(api_token=token, base_url=fake.url, **FAST) as bria:
        yield bria

"""Fixtures of the client tests: a distinctive token per test and a real loopback server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient

from .fixture_server import FixtureBria

FAST: dict[str, Any] = {
    "rate_limit_backend": "memory",
    "requests_per_minute": 100_000,
    "poll_first_factor": 0.002,
    "poll_interval_s": 0.02,
    "poll_max_interval_s": 0.05,
    "poll_jitter": 0.0,
    "retry_base_delay_s": 0.01,
    "retry_max_delay_s": 0.5,
    "max_attempts": 3,
}
"""Settings that keep tests quick: in-memory budgets, short polls and backoffs."""


@pytest.fixture
def token() -> str:
    """A fresh token per test: budgets and 429 gates are keyed by token, so tests stay apart."""
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def _fixture_server() -> Iterator[FixtureBria]:
    server = FixtureBria()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(_fixture_server: FixtureBria, token: str) -> FixtureBria:
    """The loopback Bria, reset to accept this test's token."""
    _fixture_server.reset(token)
    return _fixture_server


@pytest.fixture
def client(server: FixtureBria, token: str) -> Iterator[BriaClient]:
    """A blocking client on the fixture server."""
    with BriaClient(api_token=token, base_url=server.url, **FAST) as bria:
        yield bria


@pytest.fixture
async def aclient(server: FixtureBria, token: str) -> Any:
    """An async client on the fixture server."""
    async with AsyncBriaClient(api_token=token, base_url=server.url, **FAST) as bria:
        yield bria

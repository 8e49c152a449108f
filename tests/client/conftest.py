"""Fixtures of the client tests: a distinctive token per test and the emulator on loopback.

The emulator comes from the project's pytest plugin (``bria_emulator``, named ``emulator`` by
tests/conftest.py); what the tests check of the wire they read from its request log, and
hiccups (429s, 5xx pages, hangs) are its fault rules.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from bria_dagster.client import AsyncBriaClient, BriaClient
from bria_dagster.emulator import EmulatorConfig, EmulatorServer, FaultRule
from bria_dagster.emulator.faults import FaultScope

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

EMULATOR = EmulatorConfig(
    latency={"*": "fixed:0.05"},
    output_megapixels=0.01,
    seed=5,
    string_seeds=True,  # as Bria's answers sometimes are: the client parses them
    moderation_trigger="fail",  # a prompt "fail" ends its job ERROR 422
)


def png_bytes(size: int = 32, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small real PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def hosted(emulator: EmulatorServer, data: bytes, ext: str = "png", ttl_s: float = 600.0) -> str:
    """A presigned-style URL on the emulator serving ``data`` (expired when ``ttl_s`` < 0)."""
    content_type = "image/png" if ext == "png" else "application/octet-stream"
    files = emulator.state.files
    return files.url(emulator.base_url, files.put_bytes(data, content_type, ext, ttl_s))


def answer_once(on: FaultScope, status: int, **answer: Any) -> FaultRule:
    """A fault rule: the next request in scope ``on`` is answered ``status`` (``answer``:
    headers, a JSON body or a text) instead of being processed."""
    return FaultRule(kind="respond", on=on, status_code=status, count=1, **answer)


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator of the client tests (fixtures from the plugin, see tests/conftest.py)."""
    return EMULATOR


@pytest.fixture
def token() -> str:
    """A fresh token per test: budgets and 429 gates are keyed by token, so tests stay apart."""
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def client(emulator: EmulatorServer, token: str) -> Iterator[BriaClient]:
    """A blocking client on the emulator."""
    with BriaClient(api_token=token, base_url=emulator.base_url, **FAST) as bria:
        yield bria


@pytest.fixture
async def aclient(emulator: EmulatorServer, token: str) -> Any:
    """An async client on the emulator."""
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **FAST) as bria:
        yield bria

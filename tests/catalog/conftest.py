"""Fixtures of the catalog tests: the real clients with the catalog mixin, on the emulator.

The emulator comes from the project's pytest plugin (``bria_emulator``, named ``emulator`` by
tests/conftest.py). Inputs are files hosted on it (it fetches image and video URLs); what the
client sent is read from its request log.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from PIL import Image

from bria_dagster.client import AsyncBriaClient, BriaClient
from bria_dagster.emulator import EmulatorConfig, EmulatorServer
from bria_dagster.video_files import encode_video

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

EMULATOR = EmulatorConfig(
    latency={"*": 0.0},
    output_megapixels=0.01,
    seed=9,
    rpm=None,
    training_seconds=0.1,
)

CatalogClient = BriaClient
"""The blocking client (it carries the grouped namespaces)."""

AsyncCatalogClient = AsyncBriaClient
"""The async client (it carries the grouped namespaces)."""

CLIP = encode_video([Image.new("RGB", (32, 24), (40 * i, 90, 160)) for i in range(3)], "mp4_h264")
"""A video the emulator accepts as input (three frames, 32x24, H.264)."""


def png(size: int = 256, color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A PNG (256 px: the smallest a tailored dataset takes)."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def hosted(emulator: EmulatorServer, data: bytes, ext: str = "png") -> str:
    """A URL on the emulator serving ``data``."""
    content_type = "image/png" if ext == "png" else "video/mp4"
    return emulator.state.store_bytes(data, content_type, ext)


@pytest.fixture(scope="session")
def bria_emulator_config() -> EmulatorConfig:
    """The emulator of the catalog tests (fixtures from the plugin, see tests/conftest.py)."""
    return EMULATOR


@pytest.fixture
def token() -> str:
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def img(emulator: EmulatorServer) -> str:
    """An image URL the emulator serves."""
    return hosted(emulator, png())


@pytest.fixture
def vid(emulator: EmulatorServer) -> str:
    """A video URL the emulator serves."""
    return hosted(emulator, CLIP, "mp4")


@pytest.fixture
def client(emulator: EmulatorServer, token: str) -> Iterator[CatalogClient]:
    with CatalogClient(api_token=token, base_url=emulator.base_url, **FAST) as bria:
        yield bria


@pytest.fixture
async def aclient(emulator: EmulatorServer, token: str) -> AsyncIterator[AsyncCatalogClient]:
    async with AsyncCatalogClient(api_token=token, base_url=emulator.base_url, **FAST) as bria:
        yield bria

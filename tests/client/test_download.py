"""Streaming downloads over real loopback HTTP: sinks, sha256, size cap, expiry, retries."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient, BriaInputError, DownloadError

from .fixture_server import Fault, FixtureBria


def test_path_sink_gets_the_file_its_hash_and_type(
    client: BriaClient, server: FixtureBria, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "image.png"
    result = client.download(f"{server.url}/files/abc.png", target)
    assert target.read_bytes() == server.file_bytes
    assert result.size == len(server.file_bytes)
    assert result.sha256 == hashlib.sha256(server.file_bytes).hexdigest()
    assert result.content_type == "image/png"
    assert not target.with_name("image.png.part").exists()
    usage = client.usage()
    assert (usage.downloads, usage.downloaded_bytes) == (1, len(server.file_bytes))


def test_result_hosts_never_receive_the_token(
    client: BriaClient, server: FixtureBria, token: str
) -> None:
    client.download(f"{server.url}/files/abc.png", io.BytesIO())
    [request] = server.seen("GET", "/files/")
    assert "api_token" not in request.headers
    assert token not in str(request.headers)
    assert request.headers["user-agent"].startswith("bria-dagster/")


def test_file_object_and_callable_sinks(client: BriaClient, server: FixtureBria) -> None:
    buffer = io.BytesIO(b"keep:")
    buffer.seek(5)
    client.download(f"{server.url}/files/a.png", buffer)
    assert buffer.getvalue() == b"keep:" + server.file_bytes
    chunks: list[bytes] = []
    client.download(f"{server.url}/files/a.png", chunks.append)
    assert b"".join(chunks) == server.file_bytes


@pytest.mark.parametrize(("name", "status"), [("expired-1.png", 403), ("missing-1.png", 404)])
def test_expired_urls_say_so(
    client: BriaClient, server: FixtureBria, name: str, status: int, tmp_path: Path
) -> None:
    target = tmp_path / "x.png"
    with pytest.raises(DownloadError) as caught:
        client.download(f"{server.url}/files/{name}", target)
    assert caught.value.status_code == status
    assert caught.value.expired
    assert len(server.seen("GET", "/files/")) == 1  # not retried
    assert not target.exists() and not target.with_name("x.png.part").exists()


def test_declared_size_over_the_cap_is_refused_up_front(
    client: BriaClient, server: FixtureBria, tmp_path: Path
) -> None:
    chunks: list[bytes] = []
    with pytest.raises(DownloadError, match="max_bytes") as caught:
        client.download(f"{server.url}/files/big.bin", chunks.append, max_bytes=2999)
    assert chunks == []
    assert not caught.value.expired
    assert (
        client.download(f"{server.url}/files/big.bin", chunks.append, max_bytes=3000).size == 3000
    )


def test_undeclared_size_is_counted_and_cut(
    client: BriaClient, server: FixtureBria, tmp_path: Path
) -> None:
    target = tmp_path / "stream.bin"
    with pytest.raises(DownloadError, match="max_bytes"):
        client.download(f"{server.url}/files/stream.bin", target, max_bytes=2500)
    assert not target.exists() and not target.with_name("stream.bin.part").exists()
    assert client.download(f"{server.url}/files/stream.bin", target).size == 6000


def test_a_failed_download_leaves_a_file_object_as_it_was(
    client: BriaClient, server: FixtureBria
) -> None:
    buffer = io.BytesIO(b"keep:")
    buffer.seek(5)
    with pytest.raises(DownloadError):
        client.download(f"{server.url}/files/stream.bin", buffer, max_bytes=2500)
    assert buffer.getvalue() == b"keep:"


def test_server_errors_are_retried(client: BriaClient, server: FixtureBria, tmp_path: Path) -> None:
    server.add_fault(Fault("GET", "/files/", 503, headers={"Retry-After": "0.05"}))
    server.add_fault(Fault("GET", "/files/", 429))
    target = tmp_path / "x.png"
    result = client.download(f"{server.url}/files/r.png", target)
    assert result.size == len(server.file_bytes) == len(target.read_bytes())
    assert len(server.seen("GET", "/files/")) == 3
    assert client.usage().retries == 2


def test_sync_client_refuses_async_sinks(client: BriaClient, server: FixtureBria) -> None:
    async def sink(chunk: bytes) -> None:
        pass

    with pytest.raises(BriaInputError, match="sink"):
        client.download(f"{server.url}/files/a.png", sink)
    assert server.seen("GET", "/files/") == []


async def test_async_client_streams_into_async_callables(
    aclient: AsyncBriaClient, server: FixtureBria, tmp_path: Path
) -> None:
    received: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        received.append(chunk)

    result = await aclient.download(f"{server.url}/files/a.png", sink)
    assert b"".join(received) == server.file_bytes
    assert result.sha256 == hashlib.sha256(server.file_bytes).hexdigest()
    target = tmp_path / "a.png"
    await aclient.download(f"{server.url}/files/a.png", target)
    assert target.read_bytes() == server.file_bytes
    with pytest.raises(DownloadError) as caught:
        await aclient.download(f"{server.url}/files/expired.png", sink)
    assert caught.value.expired

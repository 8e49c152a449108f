"""Streaming downloads over real loopback HTTP: sinks, sha256, size cap, expiry, retries."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient, BriaInputError, DownloadError
from bria_dagster.emulator import EmulatorServer, FaultRule

from .conftest import answer_once, hosted, png_bytes

PNG = png_bytes()


def _file_gets(emulator: EmulatorServer) -> int:
    return len(emulator.requests(method="GET", path="/files/*"))


def test_path_sink_gets_the_file_its_hash_and_type(
    client: BriaClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "image.png"
    result = client.download(hosted(emulator, PNG), target)
    assert target.read_bytes() == PNG
    assert result.size == len(PNG)
    assert result.sha256 == hashlib.sha256(PNG).hexdigest()
    assert result.content_type == "image/png"
    assert not target.with_name("image.png.part").exists()
    usage = client.usage()
    assert (usage.downloads, usage.downloaded_bytes) == (1, len(PNG))


def test_result_hosts_never_receive_the_token(
    client: BriaClient, emulator: EmulatorServer, token: str
) -> None:
    client.download(hosted(emulator, PNG), io.BytesIO())
    [request] = emulator.requests(method="GET", path="/files/*")
    assert request.token is None  # no api_token header arrived
    assert emulator.stats().file_requests_with_api_token == 0
    assert token not in str(request.headers)
    assert request.headers["user-agent"].startswith("bria-dagster/")


def test_file_object_and_callable_sinks(client: BriaClient, emulator: EmulatorServer) -> None:
    url = hosted(emulator, PNG)
    buffer = io.BytesIO(b"keep:")
    buffer.seek(5)
    client.download(url, buffer)
    assert buffer.getvalue() == b"keep:" + PNG
    chunks: list[bytes] = []
    client.download(url, chunks.append)
    assert b"".join(chunks) == PNG


@pytest.mark.parametrize("status", [403, 404])
def test_expired_urls_say_so(
    client: BriaClient, emulator: EmulatorServer, status: int, tmp_path: Path
) -> None:
    expired = hosted(emulator, PNG, ttl_s=-10)
    url = expired if status == 403 else expired.replace("/files/", "/files/missing-")
    target = tmp_path / "x.png"
    with pytest.raises(DownloadError) as caught:
        client.download(url, target)
    assert caught.value.status_code == status
    assert caught.value.expired
    assert _file_gets(emulator) == 1  # not retried
    assert not target.exists() and not target.with_name("x.png.part").exists()


def test_declared_size_over_the_cap_is_refused_up_front(
    client: BriaClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    url = hosted(emulator, b"\0" * 3000, ext="bin")
    chunks: list[bytes] = []
    with pytest.raises(DownloadError, match="max_bytes") as caught:
        client.download(url, chunks.append, max_bytes=2999)
    assert chunks == []
    assert not caught.value.expired
    assert client.download(url, chunks.append, max_bytes=3000).size == 3000


def test_undeclared_size_is_counted_and_cut(
    client: BriaClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="chunked", on="files")])
    url = hosted(emulator, b"\1" * 6000, ext="bin")
    target = tmp_path / "stream.bin"
    with pytest.raises(DownloadError, match="max_bytes"):
        client.download(url, target, max_bytes=2500)
    assert not target.exists() and not target.with_name("stream.bin.part").exists()
    assert client.download(url, target).size == 6000
    assert emulator.stats().faults == {"chunked": 2}  # both answers came without a length


def test_a_failed_download_leaves_a_file_object_as_it_was(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="chunked", on="files")])
    buffer = io.BytesIO(b"keep:")
    buffer.seek(5)
    with pytest.raises(DownloadError):
        client.download(hosted(emulator, b"\1" * 6000, ext="bin"), buffer, max_bytes=2500)
    assert buffer.getvalue() == b"keep:"


def test_server_errors_are_retried(
    client: BriaClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.configure(
        faults=[
            answer_once("files", 503, headers={"Retry-After": "0.05"}),
            answer_once("files", 429),
        ]
    )
    target = tmp_path / "x.png"
    result = client.download(hosted(emulator, PNG), target)
    assert result.size == len(PNG) == len(target.read_bytes())
    statuses = [r.status for r in emulator.requests(method="GET", path="/files/*")]
    assert statuses == [503, 429, 200]
    assert client.usage().retries == 2


def test_sync_client_refuses_async_sinks(client: BriaClient, emulator: EmulatorServer) -> None:
    async def sink(chunk: bytes) -> None:
        pass

    with pytest.raises(BriaInputError, match="sink"):
        client.download(hosted(emulator, PNG), sink)
    assert _file_gets(emulator) == 0


async def test_async_client_streams_into_async_callables(
    aclient: AsyncBriaClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    received: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        received.append(chunk)

    url = hosted(emulator, PNG)
    result = await aclient.download(url, sink)
    assert b"".join(received) == PNG
    assert result.sha256 == hashlib.sha256(PNG).hexdigest()
    target = tmp_path / "a.png"
    await aclient.download(url, target)
    assert target.read_bytes() == PNG
    with pytest.raises(DownloadError) as caught:
        await aclient.download(hosted(emulator, PNG, ttl_s=-10), sink)
    assert caught.value.expired

"""The async client's aiohttp transport keeps "never sent" apart from "sent, no answer".

Over real loopback connections: a port nobody listens on, the emulator dropping a connection
after it made the job, a server that hangs past the read timeout, and a raw server that closes a
kept-alive connection after reading a request (where aiohttp may resend only a GET, never a POST).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from bria_dagster.client import (
    AmbiguousSubmitError,
    AsyncBriaClient,
    BriaConnectionError,
)
from bria_dagster.client.aiohttp_transport import AiohttpTransport, mapped_errors
from bria_dagster.client.http_errors import transport_error
from bria_dagster.emulator import EmulatorServer, FaultRule

from .conftest import FAST

GENERATE = "/v2/image/generate"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_async_client_sends_through_aiohttp(aclient: AsyncBriaClient) -> None:
    assert isinstance(aclient._http._transport, AiohttpTransport)
    assert isinstance(aclient._downloads._transport, AiohttpTransport)


async def test_a_refused_connection_is_not_sent_and_is_retried(token: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with AsyncBriaClient(api_token=token, base_url=url, **FAST) as client:
        with pytest.raises(BriaConnectionError) as caught:
            await client.submit("image/generate", {"prompt": "x"})
        assert client.usage().calls == {GENERATE: FAST["max_attempts"]}
    assert caught.value.request_sent is False
    assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_a_post_dropped_after_the_job_was_made_is_ambiguous_and_paid_once(
    emulator: EmulatorServer, token: str
) -> None:
    emulator.state.configure(faults=(FaultRule(kind="drop_after", on="submits", count=1),))
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **FAST) as client:
        with pytest.raises(AmbiguousSubmitError) as caught:
            await client.submit("image/generate", {"prompt": "a lamp"})
    assert caught.value.request_sent is True
    assert emulator.stats().submits == {GENERATE: 1}
    assert len(emulator.requests(path=GENERATE, method="POST")) == 1


async def test_a_post_without_answer_in_time_is_ambiguous_and_a_status_poll_is_retried(
    emulator: EmulatorServer, token: str
) -> None:
    settings = {**FAST, "read_timeout_s": 0.3, "sync_read_timeout_s": 0.3}
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **settings) as client:
        job = await client.submit("image/generate", {"prompt": "a lamp"})
        emulator.state.configure(
            faults=(FaultRule(kind="slow", delay_s=2.0, count=2),)  # the next two requests
        )
        status = await client.status(job.request_id)  # two read timeouts, then an answer
        assert status.request_id == job.request_id
        assert len(emulator.requests(path=f"/v2/status/{job.request_id}")) == 3
        emulator.state.configure(faults=(FaultRule(kind="slow", delay_s=2.0, count=1),))
        with pytest.raises(AmbiguousSubmitError) as caught:
            await client.submit("image/generate", {"prompt": "a chair"})
    assert "ReadTimeout" in str(caught.value)
    assert len(emulator.requests(path=GENERATE, method="POST")) == 2  # not sent again


class DropSecondRequest:
    """A raw HTTP/1.1 server: answers the first request on a connection (kept alive) and
    closes the connection after reading the second in full, without answering."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answered in (True, False):
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            self.requests.append(head.split(b"\r\n", 1)[0])
            if answered:
                body = b'{"request_id":"r-1","status_url":"http://x/v2/status/r-1"}'
                writer.write(
                    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                    + b"content-length: %d\r\n\r\n" % len(body)
                    + body
                )
                await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def dropper() -> AsyncIterator[tuple[DropSecondRequest, str]]:
    server = DropSecondRequest()
    async with server as url:
        yield server, url


async def test_a_post_lost_on_a_kept_alive_connection_is_never_resent(
    dropper: tuple[DropSecondRequest, str], token: str
) -> None:
    server, url = dropper
    async with AsyncBriaClient(api_token=token, base_url=url, **FAST) as client:
        await client.submit("image/generate", {"prompt": "first"})
        with pytest.raises(AmbiguousSubmitError):
            await client.submit("image/generate", {"prompt": "second"})
    assert server.requests == [b"POST /v2/image/generate HTTP/1.1"] * 2


@pytest.mark.parametrize(
    ("failure", "expected", "sent"),
    [
        (aiohttp.ConnectionTimeoutError("pool"), httpx.ConnectTimeout, False),
        (aiohttp.InvalidURL("http://[::1"), httpx.ConnectError, False),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout, True),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, True),
        (aiohttp.ClientPayloadError("truncated"), httpx.RemoteProtocolError, True),
        (aiohttp.ClientOSError(104, "reset by peer"), httpx.ReadError, True),
        (ConnectionResetError(104, "reset"), httpx.ReadError, True),
    ],
)
def test_each_aiohttp_failure_says_whether_the_post_left(
    failure: Exception, expected: type[httpx.TransportError], sent: bool
) -> None:
    with pytest.raises(httpx.TransportError) as caught, mapped_errors():
        raise failure
    assert type(caught.value) is expected
    error = transport_error(caught.value, endpoint=GENERATE, idempotent=False)
    assert error.request_sent is sent
    assert isinstance(error, AmbiguousSubmitError) is sent


def test_one_async_client_serves_one_event_loop_after_another(
    emulator: EmulatorServer, token: str
) -> None:
    client = AsyncBriaClient(api_token=token, base_url=emulator.base_url, **FAST)

    async def submit() -> str:
        return (await client.submit("image/generate", {"prompt": "x"})).request_id

    first, second = asyncio.run(submit()), asyncio.run(submit())
    asyncio.run(client.aclose())
    assert first != second
    assert len(emulator.requests(path=GENERATE, method="POST")) == 2

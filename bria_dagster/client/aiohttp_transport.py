"""An httpx transport that moves the async client's bytes through aiohttp.

Why: the async client's CPU per job was mostly httpx's own async stack (httpcore's pool scans
every pooled connection on each request and checks each with anyio's socket attributes; h11
parses in pure Python): about 1.7 ms per request. aiohttp parses HTTP in C and keeps its pool
in the event loop's callbacks, about a third of that (``benchmarks/client_overhead.py``). The
client keeps httpx's API (requests, responses, timeouts, redirects, headers, errors); only the
bytes move differently.

What must not change is what a failure says about the request, because the retry rules
(:func:`bria_dagster.client.http_errors.transport_error`) resend a POST only when it provably
never left. The mapping is therefore explicit and errs on "sent":

* no connection could be opened (``ClientConnectorError`` and its DNS, proxy, TLS and
  certificate kinds), or none within the connect or pool timeout (``ConnectionTimeoutError``),
  or the URL could not be used: ``httpx.ConnectError`` / ``httpx.ConnectTimeout``, "not sent";
* anything after a connection was taken (the server closed it, a reset, a read timeout, a
  malformed answer): ``httpx.ReadTimeout`` / ``httpx.RemoteProtocolError`` /
  ``httpx.ReadError``, "sent, no answer".

aiohttp itself resends a request on a reused connection that dropped only for idempotent
methods (RFC 9112 section 9.3.1), never a POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

CHUNK_BYTES = 64 * 1024
"""Size of the chunks a response body is read in."""

_Proxy = tuple[URL, aiohttp.BasicAuth | None] | None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs), made once per process: loading the CAs
    costs tens of milliseconds of CPU, and every client (a sensor tick's too) needs it."""
    return httpx.create_ssl_context()


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """aiohttp's failures as the httpx errors that say whether the request left."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # before any byte of the request left
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ConnectionTimeoutError as exc:  # no connection within connect/pool timeout
        raise httpx.ConnectTimeout(str(exc) or "no connection in time") from exc
    except aiohttp.InvalidURL as exc:  # refused before connecting
        raise httpx.ConnectError(f"invalid URL: {exc}") from exc
    except TimeoutError as exc:  # aiohttp's socket read timeout, or any later timeout
        raise httpx.ReadTimeout(str(exc) or "no answer in time") from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp as the caller asks for it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with mapped_errors():
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end, else the connection is closed.
        self._response.release()


async def _request_body(stream: httpx.AsyncByteStream) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncClient`` transport over an aiohttp session (HTTP/1.1).

    The session is opened on the first request, in the event loop that sends it (a request from
    another event loop opens another), and closed by :meth:`aclose`. Cookies, redirects and
    authentication stay httpx's business: the session keeps no cookies and follows no redirect.
    Proxies come from the environment as with httpx's own transport (``HTTPS_PROXY``,
    ``NO_PROXY``, ...).
    """

    def __init__(self, *, max_connections: int = 100, keepalive_expiry_s: float = 5.0) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry_s = keepalive_expiry_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[tuple[str, str | None, int | None], _Proxy] = {}

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a session and its connections belong to one event loop
            self._session, self._loop = None, loop
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_expiry_s,
                ssl=_ssl_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # httpx decodes, by the answer's Content-Encoding
                trust_env=False,  # proxies below; no ~/.netrc credentials added
            )
        return self._session

    def _proxy(self, url: URL) -> _Proxy:
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxies:
            try:
                self._proxies[origin] = get_env_proxy_for_url(url)
            except LookupError:
                self._proxies[origin] = None
        return self._proxies[origin]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the response's body streams from the connection."""
        session = self._open()
        timeout = request.extensions.get("timeout", {})
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body (multipart upload)
            assert isinstance(request.stream, httpx.AsyncByteStream)
            data = _request_body(request.stream)
        url = URL(str(request.url), encoded=True)
        proxy = self._proxy(url)
        with mapped_errors():
            response = await session.request(
                request.method,
                url,
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                proxy=proxy[0] if proxy else None,
                proxy_auth=proxy[1] if proxy else None,
            )
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close the session and its connections (those of an event loop that is gone are left
        to it)."""
        session, self._session = self._session, None
        if session is not None and self._loop is asyncio.get_running_loop():
            await session.close()

"""The asyncio client: :class:`AsyncBriaClient`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from tenacity import AsyncRetrying

from bria_dagster.client.catalog.binding import Async
from bria_dagster.client.catalog.mixin import CatalogMixin
from bria_dagster.client.core import Call, ClientCore, SendGuard, not_sent
from bria_dagster.client.download import (
    CHUNK_BYTES,
    DownloadJob,
    DownloadResult,
    is_retryable_download,
)
from bria_dagster.client.errors import BriaError
from bria_dagster.client.placeholders import (
    PROBE_HEADERS,
    PlaceholderState,
    probe_state,
    retry_after_of,
)
from bria_dagster.client.polling import JobOutcome, finished_result
from bria_dagster.client.ratelimit import STATUS_BUDGET
from bria_dagster.client.results import JobResult, JobStatus, Submission
from bria_dagster.client.settings import ClientSettings, resolve_settings
from bria_dagster.client.status_poller import StatusPoller
from bria_dagster.client.usage import UsageSnapshot

T = TypeVar("T")


class AsyncBriaClient(CatalogMixin[Async]):
    """Asyncio Bria client on httpx; the same calls as :class:`BriaClient`, as coroutines.

    Also waits for many jobs at once (:meth:`wait_many`, :meth:`as_completed`) from a single
    polling loop that keeps within the status budget. Use ``async with`` or :meth:`aclose`.
    """

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        download_transport: httpx.AsyncBaseTransport | None = None,
        **overrides: Any,
    ) -> None:
        self._init(
            ClientCore(resolve_settings(settings, overrides)),
            transport,
            download_transport,
            owns_core=True,
        )

    def _init(
        self,
        core: ClientCore,
        transport: httpx.AsyncBaseTransport | None,
        download_transport: httpx.AsyncBaseTransport | None,
        *,
        owns_core: bool,
    ) -> None:
        # Imported here: aiohttp costs a blocking client (and every process that only imports
        # the package, such as a limiter worker) nothing.
        from bria_dagster.client.aiohttp_transport import AiohttpTransport

        self._core = core
        self._owns_core = owns_core
        self._http = httpx.AsyncClient(
            transport=transport or AiohttpTransport(), **core.engine_client_options()
        )
        self._downloads = httpx.AsyncClient(
            transport=download_transport or AiohttpTransport(), **core.download_client_options()
        )

    @classmethod
    def _sharing(cls, core: ClientCore) -> AsyncBriaClient:
        """A client on another client's core (budgets, counters); closing it leaves them open."""
        client = cls.__new__(cls)
        client._init(core, None, None, owns_core=False)
        return client

    @property
    def settings(self) -> ClientSettings:
        """The settings in use (the token shows as ``**********``)."""
        return self._core.settings

    def usage(self) -> UsageSnapshot:
        """A snapshot of this client's usage counters."""
        return self._core.usage.snapshot()

    def __repr__(self) -> str:
        return f"AsyncBriaClient(base_url={self.settings.base_url!r})"

    async def aclose(self) -> None:
        """Close connections and (unless shared) the rate-limit store."""
        await self._http.aclose()
        await self._downloads.aclose()
        if self._owns_core:
            self._core.limiter.close()

    close = aclose

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- transport ---------------------------------------------------------------------------

    async def _exchange(
        self, call: Call, attempt: int, *, acquire: bool = True, guard: SendGuard | None = None
    ) -> httpx.Response:
        if acquire:
            self._core.limiter_waited(await self._core.limiter.acquire_async(call.budget))
        request = self._http.build_request(**self._core.request_options(call))
        if guard is not None:
            # A guard records the send durably (a ledger commit waits for the disk): in its own
            # coroutine when it has one (it may share the commit with other sends), else in a
            # worker thread; the event loop meanwhile goes on with the other requests.
            sending_async: Callable[[], Awaitable[None]] | None = getattr(
                guard, "sending_async", None
            )
            if sending_async is not None:
                await sending_async()
            else:
                await asyncio.to_thread(guard.sending)
        sent_at = self._core.sent(call)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise self._core.failed(call, exc, attempt) from exc
        self._core.check(call, response, sent_at, attempt)
        return response

    async def _send(
        self,
        call: Call,
        read: Callable[[Call, httpx.Response], T],
        guard: SendGuard | None = None,
    ) -> T:
        async for attempt in AsyncRetrying(**self._core.retry_options(call)):
            with attempt:
                number = attempt.retry_state.attempt_number
                try:
                    response = await self._exchange(call, number, guard=guard)
                except BriaError as exc:
                    if guard is not None and not_sent(exc):
                        guard.unsent(exc)
                    raise
                result = read(call, response)
        return result

    async def _poll_once(self, request_id: str) -> JobStatus:
        call = self._core.status_call(request_id)
        return self._core.job_status(call, await self._exchange(call, 1, acquire=False))

    async def _take_status_slot(self) -> None:
        self._core.limiter_waited(await self._core.limiter.acquire_async(STATUS_BUDGET))

    # --- API ---------------------------------------------------------------------------------

    async def submit(
        self,
        endpoint: str,
        payload: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        guard: SendGuard | None = None,
    ) -> Submission:
        """Start an asynchronous job (``sync: false``); see :meth:`BriaClient.submit`.

        ``guard`` is told right before each attempt leaves (after its rate-limit slot) and
        after each attempt that provably did not reach Bria (see :class:`SendGuard`).
        """
        call = self._core.submit_call(endpoint, payload, webhook_url)
        return await self._send(call, self._core.submission, guard)

    async def status(self, request_id: str) -> JobStatus:
        """One Status Service answer; 404 raises NotFoundError."""
        return await self._send(self._core.status_call(request_id), self._core.job_status)

    async def as_completed(
        self,
        jobs: Sequence[Submission | str],
        *,
        endpoint: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-job deadline, WaitTimeoutError
    ) -> AsyncGenerator[JobOutcome, None]:
        """Yield each job's :class:`JobOutcome` as it ends (one polling loop for all of them).

        ``endpoint`` sets the poll schedule of bare request_ids; ``timeout`` (default
        ``wait_timeout_s``) bounds each job's wait.
        """
        watches = [
            self._core.watch(job, index=index, endpoint=endpoint, timeout=timeout)
            for index, job in enumerate(jobs)
        ]
        poller = StatusPoller(
            self._poll_once,
            self._take_status_slot,
            max_in_flight=self.settings.max_concurrent_polls,
            plan=self._core.poll_plan,
        )
        started = time.monotonic()
        try:
            async with contextlib.aclosing(poller.outcomes(watches)) as outcomes:
                async for outcome in outcomes:
                    yield outcome
        finally:
            self._core.usage.waited("job_wait_s", time.monotonic() - started)

    async def wait_many(
        self,
        jobs: Sequence[Submission | str],
        *,
        endpoint: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-job deadline, WaitTimeoutError
        return_exceptions: bool = False,
    ) -> list[JobResult | BriaError]:
        """Wait for every job; return results in input order.

        With ``return_exceptions=False`` the first failure (JobFailedError, WaitTimeoutError,
        ...) is raised at once, like ``asyncio.gather``; with True, errors take their job's place.
        """
        results: list[JobResult | BriaError | None] = [None] * len(jobs)
        batch = self.as_completed(jobs, endpoint=endpoint, timeout=timeout)
        async with contextlib.aclosing(batch) as outcomes:
            async for outcome in outcomes:
                if outcome.error is not None and not return_exceptions:
                    raise outcome.error
                results[outcome.index] = outcome.error or outcome.result
        return [item for item in results if item is not None]

    async def wait(
        self,
        job: Submission | str,
        *,
        endpoint: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-job deadline, WaitTimeoutError
    ) -> JobResult:
        """Poll one job until it ends; see :meth:`BriaClient.wait`."""
        batch = self.as_completed([job], endpoint=endpoint, timeout=timeout)
        async with contextlib.aclosing(batch) as outcomes:
            outcome = await anext(outcomes)
        return outcome.unwrap()

    async def wait_placeholders(
        self,
        urls: Sequence[str],
        *,
        endpoint: str,
        request: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-URL deadline, WaitTimeoutError
        resume: bool = False,
    ) -> None:
        """Wait until every placeholder URL has its file; see
        :meth:`BriaClient.wait_placeholders`."""
        watches = self._core.placeholder_watches(urls, endpoint, request, timeout, resume)
        started = time.monotonic()
        try:
            for watch in watches:
                while True:
                    await asyncio.sleep(max(0.0, watch.due - time.monotonic()))
                    await self._take_status_slot()
                    state, pause = await self._probe(watch.url)
                    if watch.observe(state, time.monotonic(), pause):
                        break
                    if watch.expired(time.monotonic()):
                        raise watch.timeout_error(time.monotonic())
        finally:
            self._core.usage.waited("job_wait_s", time.monotonic() - started)

    async def _probe(self, url: str) -> tuple[str, float]:
        self._core.placeholder_probe_sent()
        try:
            response = await self._downloads.get(url, headers=PROBE_HEADERS)
        except httpx.TransportError:
            return PlaceholderState.HICCUP, 0.0
        return probe_state(response), retry_after_of(response)

    async def run(self, endpoint: str, payload: Mapping[str, Any]) -> JobResult:
        """Run a job to its end (``sync: true`` where allowed); see :meth:`BriaClient.run`."""
        call = self._core.sync_call(endpoint, payload)
        if call is None:
            return await self.wait(await self.submit(endpoint, payload))
        status = await self._send(call, self._core.job_status)
        result = finished_result(status)
        if result is None:
            return await self.wait(status.request_id, endpoint=endpoint)
        return result

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        guard: SendGuard | None = None,
    ) -> Any:
        """A raw engine call; see :meth:`BriaClient.request` (``guard``: see :meth:`submit`)."""
        call = self._core.raw_call(method, path, json=json, params=params, files=files, data=data)
        return await self._send(call, lambda _call, response: self._core.raw_body(response), guard)

    async def download(
        self, url: str, sink: Any, *, max_bytes: int | None = None
    ) -> DownloadResult:
        """Stream a result file into ``sink`` (path, binary file, sync or async callable);
        see :meth:`BriaClient.download`."""
        limit = self.settings.download_max_bytes if max_bytes is None else max_bytes
        job = DownloadJob(url, sink, limit, allow_async=True)
        try:
            async for attempt in AsyncRetrying(
                **self._core.retry_options_for(is_retryable_download)
            ):
                with attempt:
                    result = await self._download_once(job)
        except BaseException:
            job.abort()
            raise
        self._core.usage.count("downloads")
        self._core.usage.count("downloaded_bytes", result.size)
        return result

    async def _download_once(self, job: DownloadJob) -> DownloadResult:
        job.begin()
        try:
            async with self._downloads.stream("GET", job.url) as response:
                job.check(response)
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    pending: Awaitable[object] | None = job.feed(chunk)
                    if pending is not None:
                        await pending
                return job.finish(response)
        except httpx.RequestError as exc:
            raise job.failed(exc) from exc

"""The blocking client: :class:`BriaClient`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
from tenacity import Retrying

from bria_dagster.client.catalog.binding import Sync
from bria_dagster.client.catalog.mixin import CatalogMixin
from bria_dagster.client.core import Call, ClientCore
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
from bria_dagster.client.polling import POLL_HICCUPS, finished_result
from bria_dagster.client.ratelimit import STATUS_BUDGET
from bria_dagster.client.results import JobResult, JobStatus, Submission
from bria_dagster.client.settings import ClientSettings, resolve_settings
from bria_dagster.client.usage import UsageSnapshot

if TYPE_CHECKING:
    from bria_dagster.client.async_client import AsyncBriaClient

T = TypeVar("T")


class BriaClient(CatalogMixin[Sync]):
    """Blocking Bria client on httpx.

    ``BriaClient(settings)`` or ``BriaClient(api_token=..., plan="pro", ...)`` (keyword
    arguments are :class:`ClientSettings` fields). Use it as a context manager or call
    :meth:`close`. ``transport``/``download_transport`` replace httpx's network layer (tests).
    """

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        download_transport: httpx.BaseTransport | None = None,
        **overrides: Any,
    ) -> None:
        self._core = ClientCore(resolve_settings(settings, overrides))
        self._http = httpx.Client(transport=transport, **self._core.engine_client_options())
        self._downloads = httpx.Client(
            transport=download_transport, **self._core.download_client_options()
        )

    @property
    def settings(self) -> ClientSettings:
        """The settings in use (the token shows as ``**********``)."""
        return self._core.settings

    def usage(self) -> UsageSnapshot:
        """A snapshot of this client's usage counters."""
        return self._core.usage.snapshot()

    def __repr__(self) -> str:
        return f"BriaClient(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        """Close connections and the rate-limit store."""
        self._http.close()
        self._downloads.close()
        self._core.limiter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------

    def _exchange(self, call: Call, attempt: int, *, acquire: bool = True) -> httpx.Response:
        if acquire:
            self._core.limiter_waited(self._core.limiter.acquire(call.budget))
        request = self._http.build_request(**self._core.request_options(call))
        sent_at = self._core.sent(call)
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._core.failed(call, exc, attempt) from exc
        self._core.check(call, response, sent_at, attempt)
        return response

    def _send(self, call: Call, read: Callable[[Call, httpx.Response], T]) -> T:
        for attempt in Retrying(**self._core.retry_options(call)):
            with attempt:
                result = read(call, self._exchange(call, attempt.retry_state.attempt_number))
        return result

    # --- API ---------------------------------------------------------------------------------

    def check_rate_limit_store(self) -> None:
        """Reach the rate-limit store once (no slot taken, no HTTP call); raise
        :class:`~bria_dagster.client.errors.RateLimitStoreError` when it cannot be used."""
        self._core.limiter.check()

    def submit(
        self, endpoint: str, payload: Mapping[str, Any], *, webhook_url: str | None = None
    ) -> Submission:
        """Start an asynchronous job (``sync: false``); return its :class:`Submission`.

        Retried only when Bria provably did not take it (429, connection not made).
        """
        call = self._core.submit_call(endpoint, payload, webhook_url)
        return self._send(call, self._core.submission)

    def status(self, request_id: str) -> JobStatus:
        """One Status Service answer (GET /v2/status/{id}); 404 raises NotFoundError."""
        return self._send(self._core.status_call(request_id), self._core.job_status)

    def wait(
        self,
        job: Submission | str,
        *,
        endpoint: str | None = None,
        timeout: float | None = None,
    ) -> JobResult:
        """Poll a job on its schedule until it ends; return its result.

        ERROR/UNKNOWN raise :class:`JobFailedError`; running out of ``timeout`` (default
        ``wait_timeout_s``) raises :class:`WaitTimeoutError` (the job may still finish). A failed
        poll (429, 5xx, network) is retried on the schedule and never fails the job.
        """
        watch = self._core.watch(job, index=0, endpoint=endpoint, timeout=timeout)
        call = self._core.status_call(watch.request_id)
        try:
            while True:
                time.sleep(max(0.0, watch.due - time.monotonic()))
                self._core.limiter_waited(self._core.limiter.acquire(STATUS_BUDGET))
                try:
                    response = self._exchange(call, watch.polls + 1, acquire=False)
                    status = self._core.job_status(call, response)
                except POLL_HICCUPS as exc:
                    watch.hiccup(exc, time.monotonic())
                else:
                    result = watch.observe(status, time.monotonic())
                    if result is not None:
                        return result
                if watch.expired(time.monotonic()):
                    raise watch.timeout_error(time.monotonic())
        finally:
            self._core.usage.waited("job_wait_s", time.monotonic() - watch.started)

    def wait_placeholders(
        self,
        urls: Sequence[str],
        *,
        endpoint: str,
        request: str | None = None,
        timeout: float | None = None,
        resume: bool = False,
    ) -> None:
        """Wait until every placeholder URL of a v1 answer has its file (see
        :mod:`bria_dagster.client.placeholders`); probes go on the status schedule of
        ``endpoint``'s family, within the status budget, without the token.

        A zero-byte file raises :class:`JobFailedError` (``is_moderation``); a URL still empty
        at ``timeout`` (default ``wait_timeout_s``) raises :class:`WaitTimeoutError` naming it
        and ``request``. ``resume``: probe at once (a wait picked up after a restart).
        """
        watches = self._core.placeholder_watches(urls, endpoint, request, timeout, resume)
        started = time.monotonic()
        try:
            for watch in watches:
                while True:
                    time.sleep(max(0.0, watch.due - time.monotonic()))
                    self._core.limiter_waited(self._core.limiter.acquire(STATUS_BUDGET))
                    state, pause = self._probe(watch.url)
                    if watch.observe(state, time.monotonic(), pause):
                        break
                    if watch.expired(time.monotonic()):
                        raise watch.timeout_error(time.monotonic())
        finally:
            self._core.usage.waited("job_wait_s", time.monotonic() - started)

    def _probe(self, url: str) -> tuple[str, float]:
        self._core.placeholder_probe_sent()
        try:
            response = self._downloads.get(url, headers=PROBE_HEADERS)
        except httpx.TransportError:
            return PlaceholderState.HICCUP, 0.0
        return probe_state(response), retry_after_of(response)

    def wait_many(
        self,
        jobs: Sequence[Submission | str],
        *,
        endpoint: str | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[JobResult | BriaError]:
        """Wait for many jobs with one poller; results in input order.

        Runs :meth:`AsyncBriaClient.wait_many` in a private event loop (in a worker thread, so it
        also works when the caller runs an event loop), sharing this client's rate budgets and
        usage counters.
        """

        async def wait_all() -> list[JobResult | BriaError]:
            async with self.async_view() as client:
                return await client.wait_many(
                    jobs, endpoint=endpoint, timeout=timeout, return_exceptions=return_exceptions
                )

        with concurrent.futures.ThreadPoolExecutor(1, "bria-wait-many") as pool:
            return pool.submit(asyncio.run, wait_all()).result()

    def async_view(self) -> AsyncBriaClient:
        """An :class:`AsyncBriaClient` on this client's settings, rate budgets and usage counters.

        Use it inside an event loop (``async with bria.async_view() as client``); closing it
        leaves this client open.
        """
        from bria_dagster.client.async_client import AsyncBriaClient

        return AsyncBriaClient._sharing(self._core)

    def run(self, endpoint: str, payload: Mapping[str, Any]) -> JobResult:
        """Run a job to its end: ``sync: true`` where the endpoint family allows it (one call,
        longer read timeout), else submit and wait."""
        call = self._core.sync_call(endpoint, payload)
        if call is None:
            return self.wait(self.submit(endpoint, payload))
        status = self._send(call, self._core.job_status)
        result = finished_result(status)
        return self.wait(status.request_id, endpoint=endpoint) if result is None else result

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Any:
        """A raw engine call (v1 CRUD, ads, multipart uploads) with the usual auth, limiter,
        error mapping and retry rules (only GET is retried after it may have been processed).

        Returns the JSON answer, text when the answer is not JSON, or None when it is empty.
        """
        call = self._core.raw_call(method, path, json=json, params=params, files=files, data=data)
        return self._send(call, lambda _call, response: self._core.raw_body(response))

    def download(self, url: str, sink: Any, *, max_bytes: int | None = None) -> DownloadResult:
        """Stream a result file into ``sink`` (a path, a binary file object or a callable taking
        chunks), without the API token, hashing (sha256) and enforcing ``max_bytes``.

        403/404/410 raise :class:`DownloadError` with ``expired`` True; 429, 5xx and network
        failures are retried while the sink can start again.
        """
        limit = self.settings.download_max_bytes if max_bytes is None else max_bytes
        job = DownloadJob(url, sink, limit, allow_async=False)
        try:
            for attempt in Retrying(**self._core.retry_options_for(is_retryable_download)):
                with attempt:
                    result = self._download_once(job)
        except BaseException:
            job.abort()
            raise
        self._core.usage.count("downloads")
        self._core.usage.count("downloaded_bytes", result.size)
        return result

    def _download_once(self, job: DownloadJob) -> DownloadResult:
        job.begin()
        try:
            with self._downloads.stream("GET", job.url) as response:
                job.check(response)
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    job.feed_sync(chunk)
                return job.finish(response)
        except httpx.RequestError as exc:
            raise job.failed(exc) from exc

"""Webhook deliveries: when a job with a ``webhook_url`` ends, POST its status body, signed.

Signed with :func:`bria_dagster.client.webhooks.sign_webhook` using the token that submitted the
job. A delivery is retried on a non-2xx answer or no answer, after each of
``EmulatorConfig.webhook_retry_delays_s`` (default: 5 attempts over ~42 min, like Bria). The body
is the same on every attempt; the timestamp and signature are fresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from bria_dagster.client.webhooks import sign_webhook

if TYPE_CHECKING:
    from bria_dagster.emulator.backends.jobs import Job
    from bria_dagster.emulator.config import EmulatorConfig
    from bria_dagster.emulator.stats import Stats

logger = logging.getLogger(__name__)


class DeliverySource(Protocol):
    """What deliveries use of the emulator's state (``EmulatorState`` provides it)."""

    @property
    def config(self) -> EmulatorConfig:
        """``webhook_retry_delays_s`` and ``webhook_timeout_s``."""
        ...

    @property
    def stats(self) -> Stats:
        """Where deliveries are counted (replaced on reset, so read it each time)."""
        ...

    async def ended(self, job: Job) -> None:
        """Wait until the job has ended."""
        ...

    def status_body(self, job: Job, *, ended: bool = False) -> dict[str, Any]:
        """The job's status answer."""
        ...


class WebhookDispatcher:
    """One asyncio task per job that has a webhook; nothing for the others."""

    def __init__(self, state: DeliverySource) -> None:
        self._state = state
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def schedule(self, job: Job) -> None:
        """Deliver ``job``'s final status once it ends (call from the event loop)."""
        task = asyncio.get_running_loop().create_task(self._deliver(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        """Deliveries not finished yet."""
        return len(self._tasks)

    async def _deliver(self, job: Job) -> None:
        state = self._state
        assert job.webhook_url and job.webhook_token
        await state.ended(job)
        body = json.dumps(state.status_body(job, ended=True), separators=(",", ":")).encode()
        stats = state.stats.webhooks
        delays = state.config.webhook_retry_delays_s
        for attempt in range(len(delays) + 1):
            if attempt:
                stats.retries += 1
                await asyncio.sleep(delays[attempt - 1])
            headers = sign_webhook(job.webhook_token, job.request_id, body)
            headers["Content-Type"] = "application/json"
            try:
                response = await self._http().post(
                    job.webhook_url,
                    content=body,
                    headers=headers,
                    timeout=state.config.webhook_timeout_s,
                )
                if response.is_success:
                    stats.delivered += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            stats.failed_attempts += 1
            logger.info("webhook for %s attempt %d failed: %s", job.request_id, attempt + 1, reason)
        stats.gave_up += 1

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def cancel_all(self) -> None:
        """Cancel pending deliveries (on reset)."""
        for task in list(self._tasks):
            task.cancel()

"""The emulator's shared state: config, jobs, files, limiter, faults, stats, webhooks, workers.

Route providers (``contract.RouteProvider``) receive this object. They may use ``config``,
``clock``, ``store_bytes``/``file_url``, ``base_url``, and keep their own state in ``extensions``
(cleared by :meth:`EmulatorState.reset`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bria_dagster.client.results import JobState
from bria_dagster.emulator.backends.files import FileStore
from bria_dagster.emulator.backends.jobs import Job, JobStore
from bria_dagster.emulator.config import EmulatorConfig
from bria_dagster.emulator.context import JobContext
from bria_dagster.emulator.contract import JobOperation
from bria_dagster.emulator.envelope import error_object, new_request_id
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.faults import FaultInjector
from bria_dagster.emulator.latency import pick
from bria_dagster.emulator.ratelimit import RateLimiter
from bria_dagster.emulator.requestlog import RequestLog
from bria_dagster.emulator.stats import Stats, StatsSnapshot
from bria_dagster.emulator.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)

_INJECTED = "injected by the emulator's fault injection"
_FORCED_ERRORS = {
    JobState.ERROR: ApiError(500, "Internal error", _INJECTED),
    JobState.UNKNOWN: ApiError(500, "Unknown error", _INJECTED),
}


class EmulatorState:
    """Everything one emulator instance knows. Safe to read from tests while the server runs."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self.clock = clock
        self.base_url: str = (config.public_url or "").rstrip("/")
        """The URL clients reach the emulator at (set by the server, or by the first request)."""
        self.jobs = JobStore()
        self.files = FileStore(config.files_dir, clock)
        self.limiter = RateLimiter(config.rpm, config.rate_window_s)
        self.stats = Stats()
        self.requests = RequestLog(config.request_log_size, config.request_log_bytes, clock)
        """What clients sent (``GET /_emulator/requests``)."""
        self.webhooks = WebhookDispatcher(self)
        self.executor = ThreadPoolExecutor(config.workers, thread_name_prefix="bria-emulator-job")
        self.http = httpx.Client(follow_redirects=True)
        """Fetches input URLs (from worker threads)."""
        self.extensions: dict[str, Any] = {}
        self._rng_lock = threading.Lock()
        self._seed_rngs()
        self.faults = FaultInjector(config.faults, self._fault_rng)
        self._closed = False

    def _seed_rngs(self) -> None:
        base = random.Random(self._config.seed)
        self._latency_rng = random.Random(base.getrandbits(64))
        self._seed_rng = random.Random(base.getrandbits(64))
        self._fault_rng = random.Random(base.getrandbits(64))

    @property
    def config(self) -> EmulatorConfig:
        """The current settings (replaced whole by :meth:`configure`)."""
        return self._config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings at runtime (see ``config.RUNTIME_FIELDS``); ValueError names the field.

        ``faults`` replaces the fault rules (their counts start afresh).
        """
        config = self._config.updated(changes)
        self._config = config
        self.limiter.configure(config.rpm, config.rate_window_s)
        if "faults" in changes:
            self.faults.set_rules(config.faults)
        return config

    def reset(self) -> None:
        """Forget jobs, files, counts, limits, logged requests and extensions; restart the
        seeded RNGs."""
        self.webhooks.cancel_all()
        self.requests.clear()
        self.jobs.clear()
        self.files.clear()
        self.limiter.reset()
        self.stats = Stats()
        self.extensions.clear()
        self._seed_rngs()
        self.faults = FaultInjector(self._config.faults, self._fault_rng)

    def snapshot(self) -> StatsSnapshot:
        """The counters now, with jobs counted by state."""
        return self.stats.snapshot(self.jobs.by_state(self.clock()))

    # -- files ---------------------------------------------------------------------------------

    def store_bytes(
        self,
        data: bytes,
        content_type: str,
        extension: str,
        *,
        endpoint: str = "/v2",
        available_at: float = 0.0,
    ) -> str:
        """Store a result file and return its URL (v1 endpoints' URLs live 1 h by default;
        ``available_at``: the URL answers 404 until then, a v1 placeholder)."""
        ttl = self._ttl(endpoint)
        stored = self.files.put_bytes(data, content_type, extension, ttl, available_at)
        return self.files.url(self.base_url, stored)

    def file_url(self, file_id: str) -> str:
        """A fresh URL for a stored file (KeyError when unknown)."""
        stored = self.files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return self.files.url(self.base_url, stored)

    def _ttl(self, endpoint: str) -> float:
        cfg = self._config
        return cfg.v1_result_ttl_s if endpoint.startswith("/v1/") else cfg.result_ttl_s

    # -- jobs ----------------------------------------------------------------------------------

    def draw_seed(self) -> int:
        """A job seed for a body that gave none."""
        with self._rng_lock:
            return self._seed_rng.randrange(2**31)

    def draw_latency(self, family: str) -> float:
        """How long a job of ``family`` stays IN_PROGRESS."""
        dist = pick(self._config.latency, family)
        with self._rng_lock:
            return dist.draw(self._latency_rng)

    def create_job(
        self,
        request_id: str,
        endpoint: str,
        family: str,
        seed: int,
        *,
        webhook_url: str | None = None,
        webhook_token: str | None = None,
        warning: str | None = None,
        placeholder: bool = False,
    ) -> Job:
        """Record a new job, its latency drawn and any job fault decided."""
        now = self.clock()
        fault = self.faults.job(endpoint)
        if fault is not None:
            self.stats.faults[fault.kind] += 1
        job = Job(
            request_id=request_id,
            endpoint=endpoint,
            family=family,
            seed=seed,
            submitted_at=now,
            done_at=now + self.draw_latency(family),
            webhook_url=webhook_url,
            webhook_token=webhook_token if webhook_url else None,
            ends_as=None
            if fault is None
            else JobState.ERROR
            if fault.kind == "job_error"
            else JobState.UNKNOWN,
            warning=warning,
            placeholder=placeholder,
        )
        self.stats.submits[endpoint] += 1
        return self.jobs.add(job)

    def add_ready_job(
        self,
        endpoint: str,
        family: str,
        latency_s: float | None,
        result: dict[str, Any] | None,
        error: ApiError | None = None,
    ) -> Job:
        """Record a job whose outcome is given (no operation runs, no submit is counted)."""
        now = self.clock()
        seed = self.draw_seed()
        latency = self.draw_latency(family) if latency_s is None else latency_s
        job = Job(new_request_id(), endpoint, family, seed, now, now + latency)
        if error is None:
            job.result = {"seed": seed, **(result or {})}
        else:
            job.error = error
        job.finished = True
        return self.jobs.add(job)

    def start_job(self, job: Job, operation: JobOperation, body: dict[str, Any]) -> None:
        """Run the job's work in a worker thread; schedule its webhook if it has one."""
        job.future = self.executor.submit(self._run, job, operation, body)
        if job.webhook_url:
            self.webhooks.schedule(job)

    async def ended(self, job: Job) -> None:
        """Wait (on the event loop) until the job's work is done and its latency has elapsed."""
        assert job.future is not None
        await asyncio.wrap_future(job.future)
        delay = job.done_at - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def _run(self, job: Job, operation: JobOperation, body: dict[str, Any]) -> None:
        try:
            if job.ends_as is not None:
                job.error = _FORCED_ERRORS[job.ends_as]
                return
            context = JobContext(self, job.request_id, job.seed, job.endpoint)
            result = operation.execute(context, body)
            warning = result.pop("warning", None) if isinstance(result, dict) else None
            job.warning = job.warning or warning
            job.result = result
        except ApiError as exc:
            job.error = exc
        except Exception as exc:
            logger.exception("operation %s failed for job %s", job.endpoint, job.request_id)
            job.error = ApiError(500, "Internal error", f"{type(exc).__name__}: {exc}")
        finally:
            job.finished = True

    def status_body(self, job: Job, *, ended: bool = False) -> dict[str, Any]:
        """The Status Service's answer for a job now (also the webhook body).

        ``ended``: the caller waited for :meth:`ended` (asyncio's timer may wake a hair before
        the wall clock reaches ``done_at``).
        """
        now = self.clock()
        state = job.state(max(now, job.done_at) if ended else now)
        body: dict[str, Any] = {"request_id": job.request_id, "status": state.value}
        if state is JobState.COMPLETED:
            body["result"] = self.present_result(job.result or {})
            if job.warning:
                body["warning"] = job.warning
        elif state is not JobState.IN_PROGRESS and job.error is not None:
            body["error"] = error_object(job.error, string_code=self._config.string_codes)
        return body

    def present_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """A result as clients see it: fresh file URLs, seeds as strings if so configured."""
        shown: dict[str, Any] = self.files.refresh(self.base_url, result)
        if self._config.string_seeds and isinstance(shown.get("seed"), int):
            shown["seed"] = str(shown["seed"])
        return shown

    # -- lifecycle -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop deliveries and workers, delete files (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self.webhooks.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.http.close()
        self.files.close()

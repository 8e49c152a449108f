"""Running a step's jobs through the ledger: submit once, wait, download, store.

Every job follows the ledger protocol (``bria_dagster.ledger.ledger``): the row exists before the
POST; a row found from an earlier attempt is resumed by its state instead of being sent again.
:meth:`StepRunner.submit` is the deferred mode's whole step; :meth:`StepRunner.run` (inline mode)
goes on to wait for the jobs and store their results.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bria_dagster.assets.plan import PlannedJob
from bria_dagster.assets.stopping import StepStopped
from bria_dagster.client import AsyncBriaClient, JobResult, Submission
from bria_dagster.client.catalog.registry import returns_placeholders
from bria_dagster.client.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BriaConnectionError,
    BriaError,
    BriaInputError,
    JobFailedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from bria_dagster.client.polling import PollSchedule
from bria_dagster.client.types.responses import parse_v1_result
from bria_dagster.failpoints import crash_point
from bria_dagster.ledger import (
    BudgetExceededError,
    EntryState,
    Ledger,
    LedgerEntry,
    Reservation,
    SpendCaps,
)
from bria_dagster.ledger.grouped import GroupedWrites
from bria_dagster.results import placeholders
from bria_dagster.results.records import ImageRecord
from bria_dagster.results.storing import store_entry
from bria_dagster.storage import ObjectStore

T = TypeVar("T")

JOB_LOG_LINES = 10
"""A step logs its first jobs one line each and sums up the rest: every log line is an event in
Dagster's event log (a database write), and a batch's request_ids are all in the ledger."""

STOP_CHECK_S = 0.5
"""How often a waiting step asks whether its run was terminated."""

WAVE_LINGER_S = 0.5
"""Inline mode: jobs whose submit ends within this long of each other are waited for together
(one polling loop per wave), while the later ones are still being sent."""

WEBHOOK_FALLBACK_POLL_S = 900.0
"""With a webhook, the first status poll of a job waits this long (in case the delivery is lost)."""


@dataclass(frozen=True)
class JobError:
    """Why a job did not produce a stored result. ``retryable``: a new attempt may succeed
    without paying twice (the step's retry policy may run again)."""

    job: PlannedJob
    message: str
    retryable: bool
    budget: BudgetExceededError | None = None
    """Set when a spend cap refused the request (nothing was sent)."""


@dataclass(frozen=True)
class StepOutcome:
    """What a step's jobs came to: stored records (in job order) and errors."""

    records: list[ImageRecord]
    errors: list[JobError]
    pending: int = 0
    """Jobs submitted and not waited for (deferred mode)."""


class StepRunner:
    """Runs one step's planned jobs for ``asset_key`` (a ``"a/b"`` string) in run ``run_id``."""

    def __init__(
        self,
        *,
        client: AsyncBriaClient,
        ledger: Ledger,
        store: ObjectStore,
        asset_key: str,
        run_id: str,
        force: bool = False,
        webhook_url: str | None = None,
        max_in_flight: int = 32,
        log: logging.Logger | None = None,
        stop: Callable[[], bool] | None = None,
        caps: SpendCaps | None = None,
    ) -> None:
        self._client = client
        self._caps = caps
        """Spend caps taken atomically as each request leaves (``bria_dagster.ledger.caps``)."""
        self._ledger = ledger
        self._writes = GroupedWrites(ledger)
        """The ledger writes of the step's jobs, in shared transactions: one wait for the disk
        per group of jobs, not per job (``bria_dagster.ledger.grouped``)."""
        self._store = store
        self._asset_key = asset_key
        self._run_id = run_id
        self._force = force
        self._webhook_url = webhook_url
        self._gate = asyncio.Semaphore(max_in_flight)
        self._storing = asyncio.Semaphore(max_in_flight)
        """Downloads apart from sends: sends waiting minutes for their rate-limit slots (a batch
        over the plan's rate) must not keep the results already in from being stored."""
        self._log = log or logging.getLogger(__name__)
        self._job_lines: dict[str, int] = {}
        self._fresh_placeholders: set[int] = set()
        """Entries whose placeholder answer this runner received (others resume at once)."""
        self._stop = stop
        """Says when the run was terminated (``bria_dagster.assets.stopping``); checked at safe
        points only: between status polls and before storing, never during a POST."""

    # --- submitting -------------------------------------------------------------------------

    async def submit(
        self,
        jobs: Sequence[PlannedJob],
        on_entry: Callable[[PlannedJob, LedgerEntry | JobError], None] | None = None,
    ) -> list[LedgerEntry | JobError]:
        """Send each job that has no usable ledger row; resume the others. One entry per job.

        ``on_entry`` is told of each job's entry as soon as it is known (sent or resumed)."""
        self._job_lines = {"submitted": 0, "resumed": 0}
        entries = self._ledger.reserve_many([self._reservation(job) for job in jobs])

        async def one(job: PlannedJob, entry: LedgerEntry) -> LedgerEntry | JobError:
            item = await self._submit_one(job, entry)
            if on_entry is not None:
                on_entry(job, item)
            return item

        outcome = list(
            await asyncio.gather(
                *(one(job, entry) for job, entry in zip(jobs, entries, strict=True))
            )
        )
        unlogged = {k: n - JOB_LOG_LINES for k, n in self._job_lines.items() if n > JOB_LOG_LINES}
        if unlogged:
            self._log.info(
                "%s (request_ids in the ledger: `bria-ledger list`)",
                ", ".join(f"{n} more {kind}" for kind, n in unlogged.items()),
            )
        return outcome

    def _log_job(self, kind: str, message: str, *args: object) -> None:
        self._job_lines[kind] += 1
        if self._job_lines[kind] <= JOB_LOG_LINES:
            self._log.info(message, *args)

    def _reservation(self, job: PlannedJob) -> Reservation:
        latest = self._ledger.latest(self._asset_key, job.partition_key, job.payload_hash)
        generation = 0
        if latest is not None:
            generation = latest.forced_generation
            if self._force and latest.run_id != self._run_id:
                generation += 1
        return Reservation(
            self._asset_key,
            job.partition_key,
            job.endpoint,
            job.payload_hash,
            job.summary,
            self._run_id,
            generation,
        )

    async def _submit_one(self, job: PlannedJob, entry: LedgerEntry) -> LedgerEntry | JobError:
        if not entry.submit_now:
            return self._resumable(job, entry)
        # The row is reserved (pending, nothing sent) while the job waits for its turn and its
        # rate-limit slot; the guard makes it ``submitting`` only as the request leaves.
        guard = _LedgerGuard(
            self._ledger, self._writes, job, entry, self._asset_key, self._run_id, self._caps
        )
        async with self._gate:
            crash_point("submit.reserved")
            try:
                if job.spec.sync == "always":
                    body = await self._client.request(
                        "POST", job.endpoint, json=job.call_payload, guard=guard
                    )
                    if returns_placeholders(job.endpoint, job.call_payload):
                        self._fresh_placeholders.add(entry.id)
                        kept = placeholders.keep_answer(self._client, self._ledger, entry, body)
                        self._log_job(
                            "submitted",
                            "%s: %s answered with placeholder URLs (ledger request %s); "
                            "waiting for the files",
                            job.label,
                            job.endpoint,
                            kept.request_id,
                        )
                        return kept
                    result = parse_v1_result(body)
                    request_id = result.request_id or placeholders.sync_request_id(entry)
                    self._ledger.mark_submitted(entry.id, request_id, None, time.time())
                    return self._ledger.mark_completed(
                        entry.id, result.model_dump(mode="json"), result.url
                    )
                submission = await self._client.submit(
                    job.endpoint, job.payload, webhook_url=self._webhook_url, guard=guard
                )
            except _TakenOver as taken:
                return self._resumable(job, taken.entry)
            except BudgetExceededError as exc:
                # Not sent, the row stays reserved: raising the cap and re-running resumes it.
                return JobError(job, str(exc), retryable=False, budget=exc)
            except AmbiguousSubmitError as exc:
                self._ledger.mark_ambiguous(entry.id, str(exc))
                return JobError(
                    job, f"{exc}; see `bria-ledger attention` (entry {entry.id})", retryable=False
                )
            except BriaError as exc:
                if isinstance(exc, BriaConnectionError) and not exc.request_sent:
                    # Nothing left (no rate-limit slot, no connection): the row stays
                    # reserved and the next attempt sends it.
                    return JobError(job, str(exc), retryable=True)
                code = getattr(exc, "status_code", None)
                self._ledger.mark_failed(entry.id, code, str(exc), retryable=_submit_retryable(exc))
                return JobError(job, _submit_message(exc), retryable=_step_retryable(exc))
        crash_point("submit.after_post")
        if self._webhook_url:
            # The webhook reports the end; a poll is only the fallback for a lost delivery.
            first_poll = WEBHOOK_FALLBACK_POLL_S
        else:
            schedule = PollSchedule.for_endpoint(job.endpoint, self._client.settings)
            first_poll = schedule.next_delay(0)
        self._log_job(
            "submitted", "%s: submitted %s as %s", job.label, job.endpoint, submission.request_id
        )
        # Shares its commit with the other jobs' writes; the loop sends other submits meanwhile.
        # Lost to a kill -9 before that commit, the row stays ``submitting``: never resent.
        return await self._writes.run(
            functools.partial(
                self._ledger.mark_submitted,
                entry.id,
                submission.request_id,
                submission.status_url,
                time.time() + first_poll,
            )
        )

    def _resumable(self, job: PlannedJob, entry: LedgerEntry) -> LedgerEntry | JobError:
        state = entry.state
        if state in (EntryState.PENDING, EntryState.COMPLETED, EntryState.STORED):
            self._log_job(
                "resumed", "%s: resuming %s request %s", job.label, state, entry.request_id
            )
            return entry
        if state is EntryState.SUBMITTING:
            message = (
                f"request {entry.id} is being submitted by run {entry.run_id}, or that run died "
                "while sending it (Bria may have billed it); not resending. See `bria-ledger "
                f"attention`, then `bria-ledger mark-ambiguous {entry.id}` and `retry` or `abandon`"
            )
        elif state is EntryState.AMBIGUOUS:
            message = (
                f"request {entry.id}'s submit answer was lost ({entry.error_message}); Bria may "
                f"have billed it. `bria-ledger retry {entry.id}` to send it again (see "
                "`bria-ledger attention`), or force a refresh"
            )
        elif state is EntryState.ABANDONED:
            message = f"request {entry.id} was abandoned by an operator; force a refresh"
        else:
            message = f"request {entry.id} failed: {entry.error_message or entry.error_code}"
        return JobError(job, message, retryable=False)

    # --- waiting ----------------------------------------------------------------------------

    async def run(self, jobs: Sequence[PlannedJob]) -> StepOutcome:
        """Inline mode: submit (or resume) every job, wait for them, store every result.

        Jobs are waited for in waves while the later ones are still being sent (a batch larger
        than the plan's rate takes minutes to send), each result stored as soon as it is in."""
        errors: list[JobError] = []
        # Each result is stored as soon as its job ends, while the others are still waited for;
        # once the run is terminated (``stop``), nothing more is stored or reported.
        storing: dict[int, asyncio.Task[ImageRecord | JobError]] = {}

        def store_soon(
            job: PlannedJob, entry: LedgerEntry, result: JobResult | None = None
        ) -> None:
            if self._stop is None or not self._stop():
                storing[entry.id] = asyncio.create_task(self._store_one(job, entry, result))
            elif result is not None:
                self.complete(entry, result)  # not stored, but the result is kept

        sent: asyncio.Queue[tuple[PlannedJob, LedgerEntry] | None] = asyncio.Queue()

        def known(job: PlannedJob, item: LedgerEntry | JobError) -> None:
            if not isinstance(item, LedgerEntry):
                return
            if item.state is not EntryState.PENDING:
                store_soon(job, item)
            elif placeholders.urls_of(item) is None:
                sent.put_nowait((job, item))

        async def wait_in_waves() -> None:
            waves: list[asyncio.Task[None]] = []
            try:
                while (first := await sent.get()) is not None:
                    wave = [first]
                    await asyncio.sleep(WAVE_LINGER_S)
                    last = False
                    while not sent.empty():
                        item = sent.get_nowait()
                        if item is None:
                            last = True
                        else:
                            wave.append(item)
                    waves.append(asyncio.create_task(self._wait(wave, errors, store_soon)))
                    if last:
                        break
                await asyncio.gather(*waves)
            finally:
                for task in waves:
                    task.cancel()

        waiting = asyncio.create_task(wait_in_waves())
        try:
            try:
                entries = await self.submit(jobs, on_entry=known)
            finally:
                sent.put_nowait(None)
            errors += [item for item in entries if isinstance(item, JobError)]
            live = [
                (job, item)
                for job, item in zip(jobs, entries, strict=True)
                if isinstance(item, LedgerEntry)
            ]
            pending = [(job, e) for job, e in live if e.state is EntryState.PENDING]
            filling = [(job, e) for job, e in pending if placeholders.urls_of(e) is not None]
            await self._until_stopped(waiting)
            if filling:
                jobs_by_id = {e.id: job for job, e in filling}
                filled = await self._until_stopped(self._wait_placeholders(filling, errors))
                for entry_id, entry in filled.items():
                    store_soon(jobs_by_id[entry_id], entry)
            if self._stop is not None and self._stop():
                raise StepStopped
            stored = await asyncio.gather(*(storing[e.id] for _, e in live if e.id in storing))
        finally:
            waiting.cancel()
            for task in storing.values():
                task.cancel()
        records: list[ImageRecord] = []
        for item in stored:
            if isinstance(item, JobError):
                errors.append(item)
            else:
                records.append(item)
        return StepOutcome(records=records, errors=errors)

    async def _wait(
        self,
        waiting: list[tuple[PlannedJob, LedgerEntry]],
        errors: list[JobError],
        on_done: Callable[[PlannedJob, LedgerEntry, JobResult], None],
    ) -> None:
        submissions = [
            Submission(
                request_id=entry.request_id or "",
                status_url=entry.status_url,
                endpoint=entry.endpoint,
                submitted_at=entry.submitted_at or time.time(),
            )
            for _, entry in waiting
        ]
        async for outcome in self._client.as_completed(submissions):
            job, entry = waiting[outcome.index]
            error = outcome.error
            if error is None and outcome.result is not None:
                on_done(job, entry, outcome.result)  # records it completed, then stores it
            elif isinstance(error, JobFailedError):
                self._ledger.mark_failed(
                    entry.id, error.code, _job_error_text(error), retryable=not error.is_moderation
                )
                errors.append(JobError(job, str(error), retryable=not error.is_moderation))
            else:
                # Still pending (timeout, API unreachable): a retry of the step resumes the wait.
                retryable = isinstance(error, WaitTimeoutError | BriaConnectionError | BriaError)
                errors.append(JobError(job, str(error), retryable=retryable))

    async def _wait_placeholders(
        self, filling: list[tuple[PlannedJob, LedgerEntry]], errors: list[JobError]
    ) -> dict[int, LedgerEntry]:
        async def one(job: PlannedJob, entry: LedgerEntry) -> LedgerEntry | JobError:
            resume = entry.id not in self._fresh_placeholders
            try:
                return await placeholders.wait_and_complete(
                    self._client, self._ledger, entry, resume=resume
                )
            except JobFailedError as error:
                retryable = not error.is_moderation
                text = _job_error_text(error)
                self._ledger.mark_failed(entry.id, error.code, text, retryable=retryable)
                return JobError(job, str(error), retryable=retryable)
            except BriaError as error:  # still filling: a retry of the step resumes the wait
                return JobError(job, str(error), retryable=True)

        done: dict[int, LedgerEntry] = {}
        for item in await asyncio.gather(*(one(job, entry) for job, entry in filling)):
            if isinstance(item, JobError):
                errors.append(item)
            else:
                done[item.id] = item
        return done

    async def _until_stopped(self, work: Awaitable[T]) -> T:
        """Await ``work``, cancelling it (and raising :class:`StepStopped`) once ``stop`` says
        so. Only for waiting: a cancelled status poll costs nothing, and each ledger write is
        synchronous, so it is never cut in half."""
        if self._stop is None:
            return await work
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=STOP_CHECK_S)
            if not task.done() and self._stop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise StepStopped
        return task.result()

    def complete(self, entry: LedgerEntry, result: JobResult) -> LedgerEntry:
        """Record a finished job's result in the ledger."""
        return self._ledger.mark_completed(entry.id, result.model_dump(mode="json"), result.url)

    # --- storing ----------------------------------------------------------------------------

    async def _store_one(
        self, job: PlannedJob, entry: LedgerEntry, result: JobResult | None = None
    ) -> ImageRecord | JobError:
        """Store a finished job's result; with ``result`` (its job just ended), record it
        ``completed`` first, in a commit shared with the other jobs' writes: the event loop goes
        on polling meanwhile."""
        if result is not None:
            entry = await self._writes.run(functools.partial(self.complete, entry, result))
        async with self._storing:
            try:
                return await store_entry(
                    self._client, self._ledger, self._store, entry, writes=self._writes
                )
            except (BriaError, OSError) as exc:
                return JobError(job, f"storing the result failed: {exc}", retryable=True)


def _job_error_text(error: JobFailedError) -> str:
    return error.message or error.details or str(error)


class _TakenOver(Exception):
    """The reserved row was sent (or settled) by someone else while this job waited."""

    def __init__(self, entry: LedgerEntry) -> None:
        self.entry = entry
        super().__init__(f"request {entry.id} is {entry.state}")


class _LedgerGuard:
    """Keeps a job's ledger row reserved until its request leaves (see ``SendGuard``)."""

    def __init__(
        self,
        ledger: Ledger,
        writes: GroupedWrites,
        job: PlannedJob,
        entry: LedgerEntry,
        asset_key: str,
        run_id: str,
        caps: SpendCaps | None = None,
    ) -> None:
        self._ledger = ledger
        self._writes = writes
        self._caps = caps
        self._job = job
        self._entry = entry
        self._asset_key = asset_key
        self._run_id = run_id
        self._sending = False

    def _begin_submit(self) -> LedgerEntry:
        job, entry = self._job, self._entry
        return self._ledger.begin_submit(
            self._asset_key,
            job.partition_key,
            job.endpoint,
            job.payload_hash,
            job.summary,
            self._run_id,
            entry.forced_generation,
            caps=self._caps,
        )

    async def sending_async(self) -> None:
        """``submitting``, durable before the POST leaves: the future resolves only once the
        commit holding the row (and those of the jobs that got their slot meanwhile) returned."""
        self._claimed(await self._writes.run(self._begin_submit, urgent=True))

    def sending(self) -> None:
        self._claimed(self._begin_submit())

    def _claimed(self, claimed: LedgerEntry) -> None:
        if not claimed.submit_now:
            raise _TakenOver(claimed)
        self._sending = True
        crash_point("submit.before_post")

    def unsent(self, error: BaseException) -> None:
        if self._sending:
            self._ledger.release_unsent(self._entry.id)
            self._sending = False


def _submit_message(error: BriaError) -> str:
    """A refused submit's message, with the setting to check when the URL is not Bria's."""
    code = getattr(error, "status_code", None)
    if isinstance(error, AuthenticationError):
        return f"{error}. Check api_token (BriaResource.api_token or BRIA_API_TOKEN)"
    if code in (404, 405):
        return (
            f"{error}. The engine answered {code} to a Bria operation: check base_url "
            "(BriaResource.base_url or BRIA_BASE_URL); is it Bria's engine or the emulator?"
        )
    return str(error)


def _step_retryable(error: BriaError) -> bool:
    """Whether the step's retry policy may try a refused submit again soon: only what is
    transient (429, 5xx). A configuration or input error fails at once."""
    return isinstance(error, RateLimitError | ServerError)


def _submit_retryable(error: BriaError) -> bool:
    """Whether a refused submit may be sent again by a later attempt without paying twice."""
    if isinstance(error, BriaInputError | ValidationError | AuthenticationError):
        return False
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, BriaConnectionError):
        return not error.request_sent
    # 5xx and the like: Bria answered that it failed; the job was not created.
    return True

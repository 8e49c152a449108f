"""Running a step's jobs through the ledger: submit once, wait, download, store.

Every job follows the ledger protocol (``bria_dagster.ledger.ledger``): the row exists before the
POST; a row found from an earlier attempt is resumed by its state instead of being sent again.
:meth:`StepRunner.submit` is the deferred mode's whole step; :meth:`StepRunner.run` (inline mode)
goes on to wait for the jobs and store their results.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from bria_dagster.assets import placeholders
from bria_dagster.assets.images import ImageFacts, extension_for, inspect_image
from bria_dagster.assets.plan import (
    SUMMARY_EXPECTED,
    SUMMARY_VARIANT,
    PlannedJob,
    storage_hash,
)
from bria_dagster.assets.records import ImageRecord
from bria_dagster.client import AsyncBriaClient, JobResult, Submission
from bria_dagster.client.catalog.responses import parse_v1_result
from bria_dagster.client.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BriaConnectionError,
    BriaError,
    BriaInputError,
    DownloadError,
    JobFailedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from bria_dagster.client.placeholders import returns_placeholders
from bria_dagster.client.polling import PollSchedule
from bria_dagster.failpoints import crash_point
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from bria_dagster.storage import ObjectStore, object_key

SPOOL_BYTES = 16 * 1024 * 1024
"""Results up to this size are held in memory between download and store; larger ones spill
to a temporary file."""

STREAM_CHUNK = 1024 * 1024

JOB_LOG_LINES = 10
"""A step logs its first jobs one line each and sums up the rest: every log line is an event in
Dagster's event log (a database write), and a batch's request_ids are all in the ledger."""

WEBHOOK_FALLBACK_POLL_S = 900.0
"""With a webhook, the first status poll of a job waits this long (in case the delivery is lost)."""


@dataclass(frozen=True)
class JobError:
    """Why a job did not produce a stored result. ``retryable``: a new attempt may succeed
    without paying twice (the step's retry policy may run again)."""

    job: PlannedJob
    message: str
    retryable: bool


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
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._store = store
        self._asset_key = asset_key
        self._run_id = run_id
        self._force = force
        self._webhook_url = webhook_url
        self._gate = asyncio.Semaphore(max_in_flight)
        self._log = log or logging.getLogger(__name__)
        self._job_lines: dict[str, int] = {}
        self._fresh_placeholders: set[int] = set()
        """Entries whose placeholder answer this runner received (others resume at once)."""

    # --- submitting -------------------------------------------------------------------------

    async def submit(self, jobs: Sequence[PlannedJob]) -> list[LedgerEntry | JobError]:
        """Send each job that has no usable ledger row; resume the others. One entry per job."""
        self._job_lines = {"submitted": 0, "resumed": 0}
        entries = [self._reserve(job) for job in jobs]
        outcome = list(
            await asyncio.gather(
                *(self._submit_one(job, entry) for job, entry in zip(jobs, entries, strict=True))
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

    def _reserve(self, job: PlannedJob) -> LedgerEntry:
        latest = self._ledger.latest(self._asset_key, job.partition_key, job.payload_hash)
        generation = 0
        if latest is not None:
            generation = latest.forced_generation
            if self._force and latest.run_id != self._run_id:
                generation += 1
        return self._ledger.reserve(
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
        guard = _LedgerGuard(self._ledger, job, entry, self._asset_key, self._run_id)
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
        return self._ledger.mark_submitted(
            entry.id, submission.request_id, submission.status_url, time.time() + first_poll
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
        """Inline mode: submit (or resume) every job, wait for them, store every result."""
        entries = await self.submit(jobs)
        errors = [item for item in entries if isinstance(item, JobError)]
        live = [
            (job, item)
            for job, item in zip(jobs, entries, strict=True)
            if isinstance(item, LedgerEntry)
        ]
        pending = [(job, e) for job, e in live if e.state is EntryState.PENDING]
        waiting = [(job, e) for job, e in pending if placeholders.urls_of(e) is None]
        filling = [(job, e) for job, e in pending if placeholders.urls_of(e) is not None]
        # Each result is stored as soon as its job ends, while the others are still waited for.
        storing: dict[int, asyncio.Task[ImageRecord | JobError]] = {}

        def store_soon(job: PlannedJob, entry: LedgerEntry) -> None:
            storing[entry.id] = asyncio.create_task(self._store_one(job, entry))

        try:
            for job, e in live:
                if e.state is not EntryState.PENDING:
                    store_soon(job, e)
            if waiting:
                await self._wait(waiting, errors, store_soon)
            if filling:
                jobs_by_id = {e.id: job for job, e in filling}
                for entry_id, entry in (await self._wait_placeholders(filling, errors)).items():
                    store_soon(jobs_by_id[entry_id], entry)
            stored = await asyncio.gather(*(storing[e.id] for _, e in live if e.id in storing))
        finally:
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
        on_done: Callable[[PlannedJob, LedgerEntry], None],
    ) -> dict[int, LedgerEntry]:
        submissions = [
            Submission(
                request_id=entry.request_id or "",
                status_url=entry.status_url,
                endpoint=entry.endpoint,
                submitted_at=entry.submitted_at or time.time(),
            )
            for _, entry in waiting
        ]
        done: dict[int, LedgerEntry] = {}
        async for outcome in self._client.as_completed(submissions):
            job, entry = waiting[outcome.index]
            error = outcome.error
            if error is None and outcome.result is not None:
                done[entry.id] = self.complete(entry, outcome.result)
                on_done(job, done[entry.id])
            elif isinstance(error, JobFailedError):
                self._ledger.mark_failed(
                    entry.id, error.code, _job_error_text(error), retryable=not error.is_moderation
                )
                errors.append(JobError(job, str(error), retryable=not error.is_moderation))
            else:
                # Still pending (timeout, API unreachable): a retry of the step resumes the wait.
                retryable = isinstance(error, WaitTimeoutError | BriaConnectionError | BriaError)
                errors.append(JobError(job, str(error), retryable=retryable))
        return done

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

    def complete(self, entry: LedgerEntry, result: JobResult) -> LedgerEntry:
        """Record a finished job's result in the ledger."""
        return self._ledger.mark_completed(entry.id, result.model_dump(mode="json"), result.url)

    # --- storing ----------------------------------------------------------------------------

    async def _store_one(self, job: PlannedJob, entry: LedgerEntry) -> ImageRecord | JobError:
        async with self._gate:
            try:
                return await store_entry(self._client, self._ledger, self._store, entry)
            except (BriaError, OSError) as exc:
                return JobError(job, f"storing the result failed: {exc}", retryable=True)


async def store_entry(
    client: AsyncBriaClient, ledger: Ledger, store: ObjectStore, entry: LedgerEntry
) -> ImageRecord:
    """Download a ``completed`` entry's result into the store and mark it ``stored``.

    A ``stored`` entry is reused as it is (``reused=True``). An expired result URL is fetched
    anew from the Status Service. The object's key is deterministic, so a crash between storing
    and marking finds the object already there and reuses it (write-once).
    """
    if entry.state is EntryState.STORED:
        return record_of_stored(store, entry).with_(reused=True)
    result = JobResult.model_validate(entry.result or {})
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        download_type = await _download(client, entry, result, spool)
        crash_point("store.downloaded")
        facts = inspect_image(spool)
        content_type, extension = extension_for(facts, download_type)
        key = object_key(
            entry.asset_key.split("/"),
            entry.partition_key,
            storage_hash(entry.payload_hash, entry.forced_generation),
            extension,
        )
        stored = await store.put_async(
            key,
            _chunks(spool),
            content_type=content_type,
            provenance=_provenance(entry, result),
        )
    crash_point("store.after_put")
    marked = ledger.mark_stored(entry.id, stored.uri, stored.sha256)
    return _record(marked, result, stored.key, stored.size, stored.sha256, content_type, facts)


def record_of_stored(store: ObjectStore, entry: LedgerEntry) -> ImageRecord:
    """The :class:`ImageRecord` of a ``stored`` entry, its facts read back from the object."""
    key = _key_of(store, entry)
    info = store.info(key)
    with store.open(key) as file:
        facts = inspect_image(file)
    result = JobResult.model_validate(entry.result or {})
    return _record(entry, result, key, info.size, info.sha256, info.content_type, facts)


def _record(
    entry: LedgerEntry,
    result: JobResult,
    key: str,
    size: int,
    sha256: str,
    content_type: str,
    facts: ImageFacts | None,
) -> ImageRecord:
    summary = entry.request_summary
    return ImageRecord(
        partition_key=entry.partition_key,
        variant=summary.get(SUMMARY_VARIANT),
        request_id=entry.request_id or "",
        endpoint=entry.endpoint,
        uri=entry.storage_uri or "",
        key=key,
        size=size,
        sha256=sha256,
        content_type=content_type,
        width=facts.width if facts else None,
        height=facts.height if facts else None,
        has_alpha=facts.has_alpha if facts else None,
        seed=result.seed,
        prompt=result.prompt,
        refined_prompt=result.refined_prompt,
        structured_prompt=_clip(result.structured_prompt),
        result_url=entry.result_url,
        submitted_at=entry.submitted_at,
        completed_at=entry.completed_at,
        stored_at=entry.stored_at,
        expected=dict(summary.get(SUMMARY_EXPECTED) or {}),
    )


async def _download(
    client: AsyncBriaClient, entry: LedgerEntry, result: JobResult, sink: IO[bytes]
) -> str | None:
    url = entry.result_url or result.url
    if not url:
        raise DownloadError(f"request {entry.request_id}: the result has no file URL")
    try:
        return (await client.download(url, sink)).content_type
    except DownloadError as exc:
        if not exc.expired or not entry.request_id or entry.request_id.startswith("sync-"):
            raise
    # The signed URL expired: the Status Service signs a fresh one.
    status = await client.status(entry.request_id)
    fresh = status.result.url if status.result else None
    if not fresh:
        raise DownloadError(f"request {entry.request_id}: no fresh result URL after expiry")
    sink.seek(0)
    sink.truncate()
    return (await client.download(fresh, sink)).content_type


def _key_of(store: ObjectStore, entry: LedgerEntry) -> str:
    root = store.uri.rstrip("/") + "/"
    uri = entry.storage_uri or ""
    if not uri.startswith(root):
        raise DownloadError(
            f"request {entry.request_id} was stored at {uri}, outside this store ({store.uri})"
        )
    return uri[len(root) :]


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    file.seek(0)
    while chunk := file.read(STREAM_CHUNK):
        yield chunk


def _provenance(entry: LedgerEntry, result: JobResult) -> dict[str, Any]:
    values = {
        "request_id": entry.request_id,
        "endpoint": entry.endpoint,
        "prompt": result.prompt,
        "seed": result.seed,
        "asset_key": entry.asset_key,
        "partition_key": entry.partition_key,
        "variant": entry.request_summary.get(SUMMARY_VARIANT),
        "payload_hash": entry.payload_hash,
        "forced_generation": entry.forced_generation,
    }
    return {name: value for name, value in values.items() if value is not None}


def _clip(text: str | None, limit: int = 4000) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"…[{len(text)} chars]"


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
        self, ledger: Ledger, job: PlannedJob, entry: LedgerEntry, asset_key: str, run_id: str
    ) -> None:
        self._ledger = ledger
        self._job = job
        self._entry = entry
        self._asset_key = asset_key
        self._run_id = run_id
        self._sending = False

    def sending(self) -> None:
        job, entry = self._job, self._entry
        claimed = self._ledger.begin_submit(
            self._asset_key,
            job.partition_key,
            job.endpoint,
            job.payload_hash,
            job.summary,
            self._run_id,
            entry.forced_generation,
        )
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

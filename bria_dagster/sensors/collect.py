"""One tick of result collection: poll what is due, store what finished, hand back what to report.

Bounded work: at most ``max_polls`` status calls and ``max_stores`` downloads per tick, and
everything stops at the tick's deadline (unfinished polls give their lease back unchanged).
Free of Dagster: the sensor turns a :class:`TickReport` into events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bria_dagster.client import AsyncBriaClient, JobState, JobStatus
from bria_dagster.client.errors import (
    BriaError,
    JobFailedError,
    RateLimitError,
    WaitTimeoutError,
)
from bria_dagster.client.polling import PollSchedule, finished_result
from bria_dagster.client.types.responses import TailoredModel
from bria_dagster.ledger import NO_RESULT_CODE, EntryState, Ledger, LedgerEntry
from bria_dagster.ledger.creations import created_id, is_training
from bria_dagster.results import placeholders
from bria_dagster.results.images import ResultFacts
from bria_dagster.results.records import ImageRecord
from bria_dagster.results.storing import inspect_stored, store_inspected
from bria_dagster.storage import ObjectStore, StorageError

T = TypeVar("T")

MIN_REPORTS = 20
"""A tick reports at least this many stored results, however long its polls and stores took,
so that a slow machine still makes progress; the rest wait for the next tick."""
STORE_SHARE = 0.5
"""The share of a tick's budget its stores may take (see :meth:`ResultCollector.tick`)."""
PLACEHOLDER_PROBE_S = 0.001
"""A tick probes each placeholder URL once: a wait this short ends after its first probe."""

AGE_POLL_FRACTION = 0.2
"""A running job is polled again after at least this share of its age."""


@dataclass(frozen=True)
class TickLimits:
    """How much one tick may do."""

    budget_s: float = 40.0
    """Wall-clock budget; keep it well under the sensor's gRPC timeout (60 s by default)."""
    max_polls: int = 200
    max_stores: int = 100
    max_reports: int = 200
    max_job_attempts: int = 3
    """A job that ends in ERROR/UNKNOWN is resubmitted (by a run of its submit step) until it
    has been tried this many times; moderation refusals are never resubmitted."""


@dataclass
class TickReport:
    """What a tick did, and what the sensor must report."""

    reports: list[tuple[LedgerEntry, ImageRecord]] = field(default_factory=list)
    inspected: dict[str, ResultFacts] = field(default_factory=dict)
    """What reading each reported object back found (its preview included), by object key: the
    sensor's checks, metadata and preview use it instead of decoding the object again."""
    trained: list[LedgerEntry] = field(default_factory=list)
    """Tailored models whose training completed, not reported yet (``result``: the model)."""
    failures: list[LedgerEntry] = field(default_factory=list)
    """Entries that ended failed in this tick (Bria's message in ``error_message``)."""
    resubmit: list[LedgerEntry] = field(default_factory=list)
    """Failed entries whose submit step should run again (under ``max_job_attempts``)."""
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the tick's log and skip reason."""
        return ", ".join(f"{name} {value}" for name, value in self.counts.items())


class ResultCollector:
    """Collects finished results of ``asset_keys`` (``"a/b"`` strings) from the ledger, and
    the trainings of the tailored model assets ``training_keys``."""

    def __init__(
        self,
        *,
        client: AsyncBriaClient,
        ledger: Ledger,
        store: ObjectStore,
        asset_keys: Sequence[str],
        owner: str,
        limits: TickLimits,
        training_keys: Sequence[str] = (),
    ) -> None:
        self._client = client
        self._training_keys = list(training_keys)
        self._ledger = ledger
        self._store = store
        self._keys = list(asset_keys)
        self._owner = owner
        self._limits = limits

    async def tick(self) -> TickReport:
        """Poll due jobs, store finished results, list stored-but-unreported ones."""
        started = time.monotonic()
        deadline = started + self._limits.budget_s
        report = TickReport()
        counts = report.counts
        claimed = self._ledger.claim_due(
            self._owner,
            limit=self._limits.max_polls,
            lease_seconds=self._limits.budget_s + 30.0,
            asset_keys=[*self._keys, *self._training_keys],
        )
        counts["due_claimed"] = len(claimed)
        await self._poll(claimed, deadline, report)
        # Storing stops at STORE_SHARE of the budget: the rest is for reading back and reporting
        # what is stored (each costs about what a store does); stores taking the whole budget
        # left every tick reporting only its minimum while the stored backlog grew.
        decoded: dict[int, tuple[str, ResultFacts]] = {}
        await self._store_completed(started + self._limits.budget_s * STORE_SHARE, report, decoded)
        self._collect_reports(report, deadline, decoded)
        self._collect_trained(report)
        self._collect_resubmissions(report)
        self._count_backlog(report)
        counts["tick_ms"] = int((time.monotonic() - started) * 1000)
        return report

    # --- polling ----------------------------------------------------------------------------

    async def _poll(self, claimed: list[LedgerEntry], deadline: float, report: TickReport) -> None:
        counts = report.counts
        for name in ("polled", "completed", "still_running", "failed", "rate_limited"):
            counts.setdefault(name, 0)
        gate = asyncio.Semaphore(self._client.settings.max_concurrent_polls)

        async def poll(entry: LedgerEntry) -> None:
            async with gate:
                if time.monotonic() >= deadline:
                    self._release(entry)
                    return
                if placeholders.urls_of(entry) is not None:
                    await self._probe_placeholders(entry, report)
                    return
                if is_training(entry):
                    model_id = created_id(entry) or 0
                    model = await self._ask(
                        self._client.tailored.models.get(model_id), entry, deadline, report
                    )
                    if model is not None:
                        self._record_training(entry, model, report)
                    return
                status = await self._ask(
                    self._client.status(entry.request_id or ""), entry, deadline, report
                )
            if status is not None:
                self._record(entry, status, report)

        await asyncio.gather(*(poll(entry) for entry in claimed))

    async def _probe_placeholders(self, entry: LedgerEntry, report: TickReport) -> None:
        """One probe of each placeholder URL of a v1 answer (no wait; never re-POSTed)."""
        counts = report.counts
        counts["polled"] += 1
        try:
            await placeholders.wait_and_complete(
                self._client, self._ledger, entry, resume=True, timeout=PLACEHOLDER_PROBE_S
            )
        except WaitTimeoutError:
            counts["still_running"] += 1
            self._reschedule(entry, 1)
            return
        except JobFailedError as failed:
            self._fail(entry, failed, report)
            return
        except BriaError:
            self._reschedule(entry, 0)
            return
        counts["completed"] += 1

    async def _ask(
        self, call: Awaitable[T], entry: LedgerEntry, deadline: float, report: TickReport
    ) -> T | None:
        """One poll of ``entry`` within the tick's deadline; None when it gave no answer (the
        entry is released or rescheduled)."""
        try:
            answer = await asyncio.wait_for(call, timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            self._release(entry)
            return None
        except RateLimitError:
            report.counts["rate_limited"] += 1
            self._reschedule(entry, 0)
            return None
        except BriaError:
            self._reschedule(entry, 0)
            return None
        report.counts["polled"] += 1
        return answer

    def _record_training(
        self, entry: LedgerEntry, model: TailoredModel, report: TickReport
    ) -> None:
        """A tailored model in training: Completed is recorded for reporting, Failed or
        Stopped fails the row for good (a failed model cannot train again)."""
        counts = report.counts
        if model.is_trained:
            counts["completed"] += 1
            self._ledger.mark_completed(entry.id, model.model_dump(mode="json"))
        elif model.has_ended:
            counts["failed"] += 1
            message = f"tailored model {model.id} ({model.name}) ended {model.status}"
            failed = self._ledger.mark_failed(entry.id, str(model.status), message)
            report.failures.append(failed)
        else:
            counts["still_running"] += 1
            self._reschedule(entry, 1)

    def _fail(self, entry: LedgerEntry, failed: JobFailedError, report: TickReport) -> None:
        report.counts["failed"] += 1
        retryable = not failed.is_moderation
        message = failed.message or failed.details or f"job ended {failed.status}"
        code = failed.code if failed.code is not None else failed.status
        ended = self._ledger.mark_failed(entry.id, code, message, retryable=retryable)
        report.failures.append(ended)

    def _record(self, entry: LedgerEntry, status: JobStatus, report: TickReport) -> None:
        counts = report.counts
        try:
            result = finished_result(status, entry.request_id)
        except JobFailedError as failed:
            self._fail(entry, failed, report)
            return
        if result is None or status.status is JobState.IN_PROGRESS:
            # Also a status Bria does not document: polled again, never failed or resubmitted.
            counts["still_running"] += 1
            self._reschedule(entry, 1)
            return
        if not result.url:
            self._completed_without_url(entry, report)
            return
        counts["completed"] += 1
        self._ledger.mark_completed(
            entry.id,
            result.model_dump(mode="json"),
            result.url,
            poll_count=entry.poll_count + 1,
        )

    def _completed_without_url(self, entry: LedgerEntry, report: TickReport) -> None:
        # Nothing to store: polled once more (the webhook receiver may have asked already),
        # then failed for an operator, never resubmitted (Bria may have billed the job).
        if entry.error_code != NO_RESULT_CODE:
            note = "a status poll answered COMPLETED without a result file URL; polled once more"
            self._ledger.flag_for_poll(entry.id, NO_RESULT_CODE, note, time.time())
            report.counts["still_running"] += 1
            self._reschedule(entry, 1)
            return
        report.counts["failed"] += 1
        message = (
            "Bria reported the job COMPLETED without a result file URL, twice; not resubmitted "
            "(it may be billed): see `bria-ledger attention`"
        )
        ended = self._ledger.mark_failed(entry.id, NO_RESULT_CODE, message, retryable=False)
        report.failures.append(ended)

    def _reschedule(self, entry: LedgerEntry, polled: int) -> None:
        schedule = PollSchedule.for_endpoint(entry.endpoint, self._client.settings)
        attempt = entry.poll_count + polled
        now = time.time()
        # A job that has run long (video, training) is polled in proportion to its age, so a
        # few slow jobs cannot take every tick's poll slots from the jobs that are due.
        age = now - (entry.submitted_at or now)
        delay = max(schedule.next_delay(attempt), AGE_POLL_FRACTION * age)
        self._ledger.reschedule(entry.id, now + delay, attempt)

    def _release(self, entry: LedgerEntry) -> None:
        self._ledger.reschedule(entry.id, entry.next_poll_at or time.time(), entry.poll_count)

    # --- storing and reporting --------------------------------------------------------------

    async def _store_completed(
        self, deadline: float, report: TickReport, decoded: dict[int, tuple[str, ResultFacts]]
    ) -> None:
        """Store what completed; ``decoded`` gets what decoding each stored result found (by
        entry id, with its sha256), so that reporting it in this tick does not decode it again."""
        completed = self._ledger.list(
            EntryState.COMPLETED,
            limit=self._limits.max_stores,
            asset_keys=self._keys,
            oldest_first=True,
        )
        report.counts["stored"] = 0
        report.counts["store_errors"] = 0
        gate = asyncio.Semaphore(8)

        async def store(entry: LedgerEntry) -> None:
            async with gate:
                if time.monotonic() >= deadline:
                    return
                try:
                    record, facts = await store_inspected(
                        self._client, self._ledger, self._store, entry, preview=True
                    )
                except (BriaError, StorageError, OSError):
                    report.counts["store_errors"] += 1
                    return
            decoded[entry.id] = (record.sha256, facts)
            report.counts["stored"] += 1

        await asyncio.gather(*(store(entry) for entry in completed))

    def _collect_reports(
        self, report: TickReport, deadline: float, decoded: dict[int, tuple[str, ResultFacts]]
    ) -> None:
        # Reading each result back takes time: past the budget, only a few (the sensor's
        # MIN_REPORTS) are read, the others wait for the next tick.
        stored = self._ledger.list(
            EntryState.STORED,
            limit=self._limits.max_reports,
            asset_keys=self._keys,
            reported=False,
            oldest_first=True,
        )
        for entry in stored:
            if len(report.reports) >= MIN_REPORTS and time.monotonic() >= deadline:
                break
            try:
                record, facts = inspect_stored(
                    self._store, entry, preview=True, decoded=decoded.get(entry.id)
                )
            except (StorageError, OSError):
                continue
            report.reports.append((entry, record))
            report.inspected[record.key] = facts
        report.counts["to_report"] = len(report.reports)

    def _collect_trained(self, report: TickReport) -> None:
        if not self._training_keys:
            return
        report.trained = self._ledger.list(
            EntryState.COMPLETED,
            limit=self._limits.max_reports,
            asset_keys=self._training_keys,
            reported=False,
            oldest_first=True,
        )
        report.counts["trained"] = len(report.trained)

    def _collect_resubmissions(self, report: TickReport) -> None:
        # Failures this tick's polls saw and those a webhook delivered alike; the sensor's
        # run_key per (entry, attempt) makes asking again on a later tick a no-op.
        failed = self._ledger.list(
            EntryState.FAILED,
            limit=self._limits.max_reports,
            asset_keys=self._keys,
            oldest_first=True,
        )
        report.resubmit = [
            entry
            for entry in failed
            if entry.retryable and entry.attempts < self._limits.max_job_attempts
        ]
        report.counts["to_resubmit"] = len(report.resubmit)

    def _count_backlog(self, report: TickReport) -> None:
        pending, due = self._ledger.backlog([*self._keys, *self._training_keys])
        report.counts["pending"] = pending
        report.counts["due_left"] = due

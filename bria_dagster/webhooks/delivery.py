"""What one verified webhook delivery does to the ledger (no HTTP here: plain, synchronous calls).

Deliveries are at least once and may race the result sensor's polls, so every branch is
idempotent: an outcome the ledger already holds is reported as a duplicate and nothing is
written (not even ``updated_at``).
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.results import JobState, JobStatus
from bria_dagster.ledger import (
    NO_RESULT_CODE,
    UNRECOGNISED_STATUS_CODE,
    EntryNotFoundError,
    EntryState,
    Ledger,
    LedgerEntry,
    LedgerStateError,
)

logger = logging.getLogger(__name__)

MODERATION_CODE = "422"
"""Bria's error code for content refused by moderation: resubmitting the same request is futile."""


_HAS_RESULT = (EntryState.COMPLETED, EntryState.STORED, EntryState.ABANDONED)


class Action(enum.StrEnum):
    """What a delivery did."""

    COMPLETED = "completed"
    """The entry went ``completed`` with the delivered result."""
    FAILED = "failed"
    """The entry went ``failed`` with Bria's error."""
    DUPLICATE = "duplicate"
    """The ledger already held this outcome; nothing was written."""
    UNKNOWN_REQUEST = "unknown_request"
    """No entry holds this request_id (another ledger's job, or an attempt since re-armed)."""
    POLL = "poll"
    """The delivery cannot be trusted as an end (a status Bria does not document, or COMPLETED
    without a result file URL): the pending entry keeps its state, carries a note, and is made
    due for a status poll, whose answer decides."""
    IGNORED = "ignored"
    """Nothing to do: a non-final status, an error for an entry that already has its result, or
    a body the ledger refuses (the note says which)."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The result of :func:`apply_delivery`, also the receiver's JSON answer."""

    action: Action
    request_id: str
    entry_id: int | None = None
    state: EntryState | None = None
    note: str | None = None

    def as_json(self) -> dict[str, object]:
        """The receiver's answer body."""
        body: dict[str, object] = {"request_id": self.request_id, "outcome": self.action.value}
        if self.entry_id is not None:
            body["entry_id"] = self.entry_id
        if self.state is not None:
            body["state"] = self.state.value
        if self.note:
            body["note"] = self.note
        return body


def error_fields(status: JobStatus) -> tuple[int | str | None, str]:
    """Bria's error code and a one-line message (with ``details`` when they add something)."""
    error = status.error
    if error is None:
        return None, f"Bria reported the job {status.status.value} without an error object"
    message = error.message or f"job ended {status.status.value}"
    if error.details and error.details != message:
        message = f"{message} ({error.details})"
    return error.code, message


def is_retryable(code: int | str | None) -> bool:
    """An ERROR/UNKNOWN job may be submitted anew, unless moderation refused its content."""
    return str(code) != MODERATION_CODE


def apply_delivery(ledger: Ledger, status: JobStatus) -> DeliveryOutcome:
    """Record one verified delivery's final status in ``ledger``.

    COMPLETED → :meth:`Ledger.mark_completed` with the parsed result (``JobResult`` dump, as the
    result sensor records a polled one; Bria's own object is its ``raw``) and its main URL;
    ERROR/UNKNOWN → :meth:`Ledger.mark_failed`, retryable unless moderation refused the content
    (code 422). A status Bria does not document (``QUEUED``...), and the first COMPLETED without
    a result file URL, change no state: the entry is noted and polled (:attr:`Action.POLL`).
    Database errors propagate (the receiver answers 503 so that Bria retries).
    """
    request_id = status.request_id
    entry = ledger.by_request_id(request_id)
    if entry is None:
        return DeliveryOutcome(Action.UNKNOWN_REQUEST, request_id, note="no ledger entry")
    if status.status is JobState.IN_PROGRESS:
        return _outcome(Action.IGNORED, entry, "not a final status")
    try:
        if status.unrecognised is not None:
            note = (
                f"a webhook reported status {status.unrecognised!r}, not one Bria documents; "
                "left as it was and polled instead"
            )
            return _poll(ledger, entry, UNRECOGNISED_STATUS_CODE, note)
        if status.status is JobState.COMPLETED:
            return _complete(ledger, entry, status)
        return _fail(ledger, entry, status)
    except EntryNotFoundError:
        return DeliveryOutcome(Action.UNKNOWN_REQUEST, request_id, note="entry was re-armed")
    except LedgerStateError as exc:
        return _outcome(Action.IGNORED, entry, str(exc))
    except BriaInputError as exc:
        return _outcome(Action.IGNORED, entry, f"the ledger refused the body: {exc}")


def _complete(ledger: Ledger, entry: LedgerEntry, status: JobStatus) -> DeliveryOutcome:
    if entry.state in _HAS_RESULT:
        return _outcome(Action.DUPLICATE, entry)
    if entry.state not in (EntryState.PENDING, EntryState.FAILED):
        return _outcome(Action.IGNORED, entry, f"entry is {entry.state.value}")
    result = status.result
    assert result is not None  # parse_status sets it for COMPLETED
    if not result.url:
        if entry.error_code == NO_RESULT_CODE or entry.state is not EntryState.PENDING:
            return _outcome(Action.IGNORED, entry, "COMPLETED without a result file URL, again")
        note = (
            "a webhook reported COMPLETED without a result file URL; polled once more "
            "(the poll decides)"
        )
        return _poll(ledger, entry, NO_RESULT_CODE, note)
    # Stored as the Dagster layer stores a polled result (a JobResult dump, Bria's object under
    # "raw"), so the sensor reads both alike. By request_id, not id: if the row was re-armed
    # since the read, this finds nothing.
    updated = ledger.mark_completed(
        status.request_id, result=result.model_dump(mode="json"), result_url=result.url
    )
    return _outcome(Action.COMPLETED, updated)


def _fail(ledger: Ledger, entry: LedgerEntry, status: JobStatus) -> DeliveryOutcome:
    if entry.state is EntryState.FAILED:
        return _outcome(Action.DUPLICATE, entry)
    if entry.state in _HAS_RESULT:
        return _outcome(Action.IGNORED, entry, f"entry is already {entry.state.value}")
    if entry.state is not EntryState.PENDING:
        return _outcome(Action.IGNORED, entry, f"entry is {entry.state.value}")
    code, message = error_fields(status)
    updated = ledger.mark_failed(entry.id, code, message, retryable=is_retryable(code))
    return _outcome(Action.FAILED, updated)


def _poll(ledger: Ledger, entry: LedgerEntry, code: str, note: str) -> DeliveryOutcome:
    if entry.state is not EntryState.PENDING:
        return _outcome(Action.IGNORED, entry, f"{note}; but the entry is {entry.state.value}")
    logger.warning("request %s (ledger entry %s): %s", entry.request_id, entry.id, note)
    updated = ledger.flag_for_poll(entry.id, code, note, time.time())
    return _outcome(Action.POLL, updated, note)


def _outcome(action: Action, entry: LedgerEntry, note: str | None = None) -> DeliveryOutcome:
    return DeliveryOutcome(action, entry.request_id or "", entry.id, entry.state, note)

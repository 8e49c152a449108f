"""The values the ledger hands out: an entry's state and a read-only snapshot of its row."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EntryState(enum.StrEnum):
    """Where a request is in its life.

    ``submitting`` → ``pending`` → ``completed`` → ``stored`` is the happy path. A ``pending``
    row without a request_id is *reserved*: waiting for a rate-limit slot, nothing sent yet, and
    resumable by any later attempt (``Ledger.reserve``); it becomes ``submitting`` only when its
    request can leave. ``failed``: the
    API refused the submit or the job ended in error. ``ambiguous``: a submit's answer was lost,
    so Bria may have accepted (and billed) a job whose request_id nobody knows. ``abandoned``: an
    operator gave up on the entry.
    """

    SUBMITTING = "submitting"
    PENDING = "pending"
    COMPLETED = "completed"
    STORED = "stored"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    ABANDONED = "abandoned"


UNRECOGNISED_STATUS_CODE = "unrecognised_status"
"""``error_code`` note on a pending entry after a report whose status Bria does not document."""
TRAINING_ENDPOINT = "/v1/tailored-gen/models/{model_id}/start_training"
"""The endpoint of a tailored model's training row: the result sensor follows it by polling the
model, and reports it from ``completed`` (nothing to store; see ``ledger.creations``)."""
NO_RESULT_CODE = "completed_without_result"
"""``error_code`` note (and marker) on a pending entry sent back to polling once because Bria
reported it COMPLETED without a result file URL; a second such report fails it."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A snapshot of one ``bria_requests`` row. Times are UTC epoch seconds (``time.time()``).

    ``submit_now`` is True only on the entry returned by the :meth:`Ledger.begin_submit` call
    that reserved the row for a new POST: that caller, and only it, sends the request.
    """

    id: int
    asset_key: str
    partition_key: str | None
    endpoint: str
    payload_hash: str
    forced_generation: int
    request_summary: dict[str, Any]
    request_id: str | None
    status_url: str | None
    state: EntryState
    attempts: int
    poll_count: int
    created_at: float
    submitted_at: float | None
    next_poll_at: float | None
    completed_at: float | None
    stored_at: float | None
    updated_at: float
    result: dict[str, Any] | None
    result_url: str | None
    storage_uri: str | None
    sha256: str | None
    error_code: str | None
    error_message: str | None
    retryable: bool
    history: list[dict[str, Any]]
    run_id: str | None
    reported: bool
    lease_owner: str | None
    lease_until: float | None
    submit_now: bool = False

    @property
    def reserved(self) -> bool:
        """Waiting to be sent: ``pending`` and no request_id yet (see :meth:`Ledger.reserve`)."""
        return self.state is EntryState.PENDING and self.request_id is None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], *, submit_now: bool = False) -> LedgerEntry:
        """Build an entry from a row mapping of the ``bria_requests`` table."""
        values = {name: row[name] for name in _COLUMN_FIELDS}
        values["state"] = EntryState(values["state"])
        values["reported"] = bool(values["reported"])
        values["retryable"] = bool(values["retryable"])
        values["history"] = list(values["history"] or [])
        values["request_summary"] = dict(values["request_summary"] or {})
        return cls(**values, submit_now=submit_now)


_COLUMN_FIELDS: tuple[str, ...] = tuple(
    name for name in LedgerEntry.__dataclass_fields__ if name != "submit_now"
)


@dataclass(frozen=True, slots=True)
class PendingRow:
    """One already-submitted request for :meth:`Ledger.bulk_insert_pending`."""

    asset_key: str
    partition_key: str | None
    endpoint: str
    payload_hash: str
    request_id: str
    submitted_at: float
    next_poll_at: float
    status_url: str | None = None
    request_summary: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    forced_generation: int = 0

"""The WHERE conditions and row values behind the ledger's statements, checked on the way in."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bria_dagster.client.endpoints import normalize_endpoint
from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import validation as check
from bria_dagster.ledger.entry import EntryState, LedgerEntry, PendingRow
from bria_dagster.ledger.schema import bria_requests, partition_key_expr

_C = bria_requests.c

RequestKey = tuple[str, str | None, str, int]
"""(asset_key, partition_key, payload_hash, forced_generation): one row per key."""


def short_text(field: str, value: object) -> str:
    """A non-empty identifier-like string (request_id, owner, endpoint)."""
    return check.text(field, value, max_length=256)


def optional_short_text(field: str, value: object) -> str | None:
    """None or a :func:`short_text`."""
    return check.optional_text(field, value, max_length=256)


def endpoint_path(field: str, value: object) -> str:
    """An endpoint name, normalised to its ``/v2/...`` or ``/v1/...`` path."""
    try:
        return normalize_endpoint(short_text(field, value))
    except ValueError as exc:
        if isinstance(exc, BriaInputError):
            raise
        raise BriaInputError(field, str(exc).removeprefix("endpoint: ")) from None


def request_key(
    asset_key: object,
    partition_key: object,
    payload_hash: object,
    forced_generation: object,
    prefix: str = "",
) -> RequestKey:
    """Check the four parts of a request's key; ``prefix`` goes before each field name."""
    return (
        check.text(f"{prefix}asset_key", asset_key, max_length=512),
        check.optional_text(f"{prefix}partition_key", partition_key, max_length=512),
        check.sha256_hex(f"{prefix}payload_hash", payload_hash),
        check.count(f"{prefix}forced_generation", forced_generation),
    )


def state(field: str, value: object) -> EntryState:
    """An :class:`EntryState` from its value."""
    try:
        return EntryState(str(value))
    except ValueError:
        names = ", ".join(member.value for member in EntryState)
        raise BriaInputError(field, f"{value!r} is not a state; use one of {names}") from None


def lookup(key: RequestKey) -> sa.ColumnElement[bool]:
    """The row of a request key (spelled to match the ``uq_bria_requests_lookup`` index)."""
    asset_key, partition_key, payload_hash, forced_generation = key
    return sa.and_(
        _C.asset_key == asset_key,
        partition_key_expr == (partition_key or ""),
        _C.payload_hash == payload_hash,
        _C.forced_generation == forced_generation,
    )


def due(owner: str, now: float) -> sa.ColumnElement[bool]:
    """Pending, due by ``now``, and not leased by another owner past ``now``."""
    free = sa.or_(_C.lease_until.is_(None), _C.lease_until <= now, _C.lease_owner == owner)
    return sa.and_(_C.state == EntryState.PENDING, _C.next_poll_at <= now, free)


def released() -> dict[str, Any]:
    """Values that free a row's lease."""
    return {"lease_owner": None, "lease_until": None}


def new_row(
    key: RequestKey,
    endpoint: str,
    summary: dict[str, Any],
    run_id: str | None,
    now: float,
    state: EntryState,
) -> dict[str, Any]:
    """All values of a fresh row in ``state`` (first attempt, nothing polled)."""
    asset_key, partition_key, payload_hash, forced_generation = key
    return {
        "asset_key": asset_key,
        "partition_key": partition_key,
        "payload_hash": payload_hash,
        "forced_generation": forced_generation,
        "endpoint": endpoint,
        "request_summary": summary,
        "state": state,
        "attempts": 1,
        "poll_count": 0,
        "created_at": now,
        "updated_at": now,
        "retryable": False,
        "history": [],
        "run_id": run_id,
        "reported": False,
    }


def pending_row(index: int, row: object, now: float) -> dict[str, Any]:
    """Values of a ``pending`` row from a :class:`PendingRow` (fields named ``pending[i].x``)."""
    field = f"pending[{index}]"
    if not isinstance(row, PendingRow):
        raise BriaInputError(field, f"must be a PendingRow, got {type(row).__name__}")
    key = request_key(
        row.asset_key, row.partition_key, row.payload_hash, row.forced_generation, f"{field}."
    )
    summary = check.json_object(
        f"{field}.request_summary", row.request_summary, max_bytes=check.SUMMARY_MAX_BYTES
    )
    values = new_row(
        key,
        endpoint_path(f"{field}.endpoint", row.endpoint),
        summary,
        optional_short_text(f"{field}.run_id", row.run_id),
        now,
        EntryState.PENDING,
    )
    values.update(
        request_id=short_text(f"{field}.request_id", row.request_id),
        status_url=check.optional_text(f"{field}.status_url", row.status_url, max_length=4096),
        submitted_at=check.timestamp(f"{field}.submitted_at", row.submitted_at),
        next_poll_at=check.timestamp(f"{field}.next_poll_at", row.next_poll_at),
    )
    return values


def rearmed(
    entry: LedgerEntry,
    run_id: str | None,
    now: float,
    state: EntryState = EntryState.SUBMITTING,
) -> dict[str, Any]:
    """Values that turn a retryable failed/ambiguous row into a fresh attempt in ``state``
    (``submitting``, or ``pending`` without a request_id: reserved).

    The earlier attempt (its request_id, run, error) is appended to ``history``.
    """
    earlier = {
        "attempt": entry.attempts,
        "state": entry.state.value,
        "request_id": entry.request_id,
        "run_id": entry.run_id,
        "submitted_at": entry.submitted_at,
        "error_code": entry.error_code,
        "error_message": entry.error_message,
        "ended_at": entry.updated_at,
    }
    return {
        "state": state,
        "attempts": entry.attempts + 1,
        "history": [*entry.history, earlier],
        "run_id": run_id,
        "request_id": None,
        "status_url": None,
        "poll_count": 0,
        "submitted_at": None,
        "next_poll_at": None,
        "completed_at": None,
        "result": None,
        "result_url": None,
        "error_code": None,
        "error_message": None,
        "retryable": False,
        "updated_at": now,
        **released(),
    }

"""Errors the ledger raises besides :class:`~bria_dagster.client.errors.BriaInputError`."""

from __future__ import annotations

from bria_dagster.client.errors import BriaError


class LedgerError(BriaError):
    """Base class of the ledger's errors."""


class EntryNotFoundError(LedgerError):
    """No ledger row has this id or request_id."""

    def __init__(self, ref: int | str) -> None:
        self.ref = ref
        what = f"request_id {ref!r}" if isinstance(ref, str) else f"id {ref}"
        super().__init__(f"no ledger entry with {what}")


class LedgerStateError(LedgerError):
    """An action is not allowed in the entry's current state (e.g. storing a pending entry)."""

    def __init__(self, entry_id: int, state: str, action: str, detail: str | None = None) -> None:
        self.entry_id = entry_id
        self.state = state
        self.action = action
        text = f"ledger entry {entry_id} is {state}: cannot {action}"
        super().__init__(f"{text} ({detail})" if detail else text)


class DuplicateRequestIdError(LedgerError):
    """A request_id is already recorded on another entry (request_ids are unique)."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(f"request_id {request_id!r} is already recorded on another ledger entry")

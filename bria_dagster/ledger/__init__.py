"""The durable request ledger (layer 4): every Bria request, recorded before anyone waits on it.

SQLite (one file shared by the processes of one machine) or PostgreSQL (runs spread over several
machines), through SQLAlchemy 2. Imports nothing from Dagster or the HTTP client: it stores plain
values. Start with :meth:`Ledger.from_url`; the protocol is described in :mod:`.ledger`.
"""

from bria_dagster.ledger.caps import BudgetExceededError, CapUse, SpendCaps
from bria_dagster.ledger.entry import (
    NO_RESULT_CODE,
    UNRECOGNISED_STATUS_CODE,
    EntryState,
    LedgerEntry,
    PendingRow,
)
from bria_dagster.ledger.errors import (
    DuplicateRequestIdError,
    EntryNotFoundError,
    LedgerError,
    LedgerStateError,
)
from bria_dagster.ledger.hashing import (
    canonical_json,
    canonical_payload,
    canonical_payload_hash,
    request_summary,
)
from bria_dagster.ledger.ledger import EntryRef, Ledger, Reservation

__all__ = [
    "NO_RESULT_CODE",
    "UNRECOGNISED_STATUS_CODE",
    "BudgetExceededError",
    "CapUse",
    "DuplicateRequestIdError",
    "EntryNotFoundError",
    "EntryRef",
    "EntryState",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerStateError",
    "PendingRow",
    "Reservation",
    "SpendCaps",
    "canonical_json",
    "canonical_payload",
    "canonical_payload_hash",
    "request_summary",
]

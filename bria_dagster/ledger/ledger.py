"""The durable request ledger: every Bria request, recorded before anyone waits on it.

A caller follows this protocol (the Dagster assets and the result sensor do):

1. Optionally :meth:`Ledger.reserve` while waiting for a rate-limit slot (a reserved
   ``pending`` row without a request_id: nothing sent, anyone may resume it). Then
   :meth:`Ledger.begin_submit` right *before* the POST (:meth:`~Ledger.release_unsent` when it
   provably did not leave). If the returned entry has ``submit_now``, send the request, then
   :meth:`~Ledger.mark_submitted` (or :meth:`~Ledger.mark_ambiguous` when the answer was lost,
   :meth:`~Ledger.mark_failed` when the API refused it). Otherwise the row already existed:
   resume by its state: ``pending`` → wait for it; ``completed``/``stored`` → reuse it;
   ``submitting`` → another process is sending it now, or one crashed while sending it
   (see :meth:`~Ledger.stuck_submitting`): report it, never resend; ``ambiguous``/``failed``/
   ``abandoned`` → report it (an operator may :meth:`~Ledger.retry` it).
2. A poller takes due work with :meth:`~Ledger.claim_due` (a lease, so two pollers never work the
   same row) and records what it learns: :meth:`~Ledger.reschedule`,
   :meth:`~Ledger.mark_completed`, :meth:`~Ledger.mark_failed`.
3. The result is stored (:meth:`~Ledger.mark_stored`) and reported
   (:meth:`~Ledger.mark_reported`).

Each method is one short transaction, safe when several processes share the database. Times are
UTC epoch seconds (floats, ``time.time()``) everywhere.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import caps as spend
from bria_dagster.ledger import rows
from bria_dagster.ledger import validation as check
from bria_dagster.ledger.engine import (
    WRITE_OPTION,
    check_schema,
    create_ledger_engine,
    parse_url,
)
from bria_dagster.ledger.entry import TRAINING_ENDPOINT, EntryState, LedgerEntry, PendingRow
from bria_dagster.ledger.errors import (
    DuplicateRequestIdError,
    EntryNotFoundError,
    LedgerStateError,
)
from bria_dagster.ledger.schema import bria_requests, metadata, partition_key_expr

EntryRef = int | str
"""An entry's id (int) or its request_id (str)."""

_T = bria_requests
_R = TypeVar("_R")
_S = EntryState

RESERVE_BATCH = 200
"""Requests :meth:`Ledger.reserve_many` reserves per transaction (it holds the write lock)."""


class _GroupRedo(Exception):
    """A write of :meth:`Ledger.write_each`'s group raised: run the group again, with savepoints."""


class Reservation(NamedTuple):
    """One request to :meth:`Ledger.reserve_many`: the arguments of :meth:`Ledger.reserve`."""

    asset_key: str
    partition_key: str | None
    endpoint: str
    payload_hash: str
    summary: Mapping[str, Any]
    run_id: str | None
    forced_generation: int = 0


_ADVISORY_LOCK_KEY = 0x6272_6961_6C65_6467  # "brialedg": serialises concurrent table creation
_BATCH = 500


class Ledger:
    """The ``bria_requests`` table on SQLite or PostgreSQL. Build one with :meth:`from_url`."""

    def __init__(
        self, engine: Engine, *, clock: Callable[[], float] = time.time, create: bool = True
    ) -> None:
        """Wrap an engine made by :func:`~bria_dagster.ledger.engine.create_ledger_engine`.

        ``clock`` gives the current epoch time (tests pass a fake one). ``create`` makes the table
        if it is missing.
        """
        self._engine = engine
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite takes one writer at a time, and a writer that finds the file locked sleeps
        # (1, 2, 5 ... 100 ms) before it looks again: threads of one process queue here instead.
        self._writers: contextlib.AbstractContextManager[object] = (
            contextlib.nullcontext() if self._postgres else threading.RLock()
        )
        self._shared = threading.local()
        """``conn``: the transaction :meth:`write_each` shares among its writes, in its thread."""
        if create:
            self.create_table()

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        *,
        schema: str | None = None,
        clock: Callable[[], float] = time.time,
        create: bool = True,
    ) -> Ledger:
        """Open a ledger at ``sqlite:///path/to/ledger.db`` or ``postgresql+psycopg://...``.

        The caller chooses the SQLite file's location (its folder is created). ``schema`` puts
        the PostgreSQL table in that schema (created if missing) instead of the search path's.
        """
        parsed = parse_url(url)
        return cls(
            create_ledger_engine(parsed, schema=check_schema(schema, parsed)),
            clock=clock,
            create=create,
        )

    def __repr__(self) -> str:
        return f"Ledger({self._engine.url.render_as_string(hide_password=True)})"

    def create_table(self) -> None:
        """Create the table and its indexes if missing (``metadata.create_all``).

        Schema changes to an existing table will need Alembic migrations (see ``schema.py``).
        """
        with self._write() as conn:
            if self._postgres:
                # Two processes creating the table at once would collide on the catalog.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
                schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
                if schema:
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
            metadata.create_all(conn)

    def check_writable(self) -> None:
        """Run one write transaction that changes nothing; raises SQLAlchemy's error when the
        database cannot be reached or written (checked before anything is paid for)."""
        with self._write() as conn:
            conn.execute(sa.update(_T).where(sa.false()).values(updated_at=_T.c.updated_at))

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self._engine.dispose()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        shared: sa.Connection | None = getattr(self._shared, "conn", None)
        if shared is not None:
            # Inside :meth:`write_each`: one write of the shared transaction; in a savepoint of
            # its own once a write of the group failed, so that one is rolled back alone.
            if self._shared.savepoints:
                with shared.begin_nested():
                    yield shared
            else:
                yield shared
            return
        with self._writers, self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def write_each(self, writes: Sequence[Callable[[], _R]]) -> builtins.list[_R | Exception]:
        """Call each of ``writes`` (this ledger's write methods with their arguments, e.g.
        ``functools.partial(ledger.mark_stored, entry_id, uri, sha256)``) in one transaction:
        one commit, so one wait for the disk, for them all.

        Each write is rolled back alone when it raises, and its exception takes its place in
        the answer (in the order of ``writes``). Nothing is durable before this method returns;
        if the commit itself fails, it raises and none of the writes happened.
        """
        with self._write() as conn:
            return self._fill(conn, writes)

    def _fill(
        self, conn: sa.Connection, writes: Sequence[Callable[[], _R]]
    ) -> builtins.list[_R | Exception]:
        """Run ``writes`` in ``conn``'s transaction, each one's ``_write`` sharing it."""
        self._shared.conn = conn
        try:
            # A savepoint around each write would cost two statements a write: first the
            # group in one savepoint, and only when a write raises, again with them.
            try:
                with conn.begin_nested():
                    return self._each(writes, savepoints=False)
            except _GroupRedo:
                return self._each(writes, savepoints=True)
        finally:
            self._shared.conn = None

    def _each(
        self, writes: Sequence[Callable[[], _R]], *, savepoints: bool
    ) -> builtins.list[_R | Exception]:
        self._shared.savepoints = savepoints
        answers: builtins.list[_R | Exception] = []
        for write in writes:
            try:
                answers.append(write())
            except Exception as exc:  # handed back as this write's answer
                if not savepoints:
                    raise _GroupRedo from exc
                answers.append(exc)
        return answers

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def _locked(self, conn: sa.Connection, entry_id: int) -> LedgerEntry:
        row = (
            conn.execute(sa.select(_T).where(_T.c.id == entry_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None:
            raise EntryNotFoundError(entry_id)
        return LedgerEntry.from_row(row)

    def _update(self, conn: sa.Connection, entry_id: int, values: dict[str, Any]) -> LedgerEntry:
        values.setdefault("updated_at", self._clock())
        row = (
            conn.execute(sa.update(_T).where(_T.c.id == entry_id).values(values).returning(_T))
            .mappings()
            .one()
        )
        return LedgerEntry.from_row(row)

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(_T) if self._postgres else sqlite.insert(_T)

    # -- submitting ---------------------------------------------------------------------------

    def begin_submit(
        self,
        asset_key: str,
        partition_key: str | None,
        endpoint: str,
        payload_hash: str,
        summary: Mapping[str, Any],
        run_id: str | None,
        forced_generation: int = 0,
        caps: spend.SpendCaps | None = None,
    ) -> LedgerEntry:
        """Record a request in state ``submitting`` right before its POST is sent.

        Returns the new row with ``submit_now=True``. If a row with the same (asset_key,
        partition_key, payload_hash, forced_generation) exists it is returned instead, with
        ``submit_now=False``, unless it is ``failed``/``ambiguous`` and ``retryable`` (see
        :meth:`mark_failed` and :meth:`retry`): then it is re-armed in place (its earlier attempt
        moves to ``history``, ``attempts`` grows) and returned with ``submit_now=True``. A row
        :meth:`reserve` made becomes ``submitting`` and is returned with ``submit_now=True``.
        ``summary`` is a small JSON object (see :func:`~bria_dagster.ledger.request_summary`).

        Each switch to ``submitting`` is recorded as a billed POST in the same transaction,
        after checking ``caps`` (:mod:`~bria_dagster.ledger.caps`): a request over a cap raises
        :class:`~bria_dagster.ledger.caps.BudgetExceededError` and the row stays as it was.
        """
        request = Reservation(
            asset_key, partition_key, endpoint, payload_hash, summary, run_id, forced_generation
        )
        with self._write() as conn:
            return self._claim(conn, request, _S.SUBMITTING, caps)

    def reserve(
        self,
        asset_key: str,
        partition_key: str | None,
        endpoint: str,
        payload_hash: str,
        summary: Mapping[str, Any],
        run_id: str | None,
        forced_generation: int = 0,
    ) -> LedgerEntry:
        """Record a request that will be sent once a rate-limit slot is free: a ``pending`` row
        without a request_id (:attr:`LedgerEntry.reserved`).

        Same arguments and answer as :meth:`begin_submit`, but nothing may be billed yet: the
        row is resumable by anyone. A reserved row found again is handed out with
        ``submit_now=True`` (its earlier holder may have died while waiting). When the slot is
        taken, :meth:`begin_submit` turns it into ``submitting``; that switch is atomic, so of
        two holders only one sends.
        """
        request = Reservation(
            asset_key, partition_key, endpoint, payload_hash, summary, run_id, forced_generation
        )
        return self.reserve_many([request])[0]

    def reserve_many(self, requests: Sequence[Reservation]) -> list[LedgerEntry]:
        """:meth:`reserve` for each of ``requests``, in one transaction per
        ``RESERVE_BATCH`` (a step's batch costs a few commits, not one per request: each
        commit waits for the disk). Answers in the order of ``requests``."""
        entries: list[LedgerEntry] = []
        for start in range(0, len(requests), RESERVE_BATCH):
            with self._write() as conn:
                entries += [
                    self._claim(conn, request, _S.PENDING)
                    for request in requests[start : start + RESERVE_BATCH]
                ]
        return entries

    def _claim(
        self,
        conn: sa.Connection,
        request: Reservation,
        state: EntryState,
        caps: spend.SpendCaps | None = None,
    ) -> LedgerEntry:
        """Insert the row in ``state`` (``submitting`` or reserved ``pending``), or hand out an
        existing one that may be sent: reserved, or failed/ambiguous and retryable; in the
        caller's write transaction."""
        asset_key, partition_key, endpoint, payload_hash, summary, run_id, forced_generation = (
            request
        )
        key = rows.request_key(asset_key, partition_key, payload_hash, forced_generation)
        endpoint = rows.endpoint_path("endpoint", endpoint)
        summary = check.json_object("summary", summary, max_bytes=check.SUMMARY_MAX_BYTES)
        run_id = rows.optional_short_text("run_id", run_id)
        now = self._clock()
        if state is _S.SUBMITTING:
            # The usual case, a row reserved while its job waited for a slot, in one statement
            # (the write lock is held, so it is the same as the read-then-update below).
            reserved = sa.and_(
                rows.lookup(key), _T.c.state == _S.PENDING, _T.c.request_id.is_(None)
            )
            claimed = (
                conn.execute(
                    sa.update(_T)
                    .where(reserved)
                    .values(state=state, run_id=run_id, updated_at=now)
                    .returning(_T)
                )
                .mappings()
                .first()
            )
            if claimed is not None:
                return self._charged(conn, LedgerEntry.from_row(claimed), caps, now)
        values = rows.new_row(key, endpoint, summary, run_id, now, state)
        stmt = self._insert().values(values).on_conflict_do_nothing().returning(_T)
        inserted = conn.execute(stmt).mappings().first()
        if inserted is not None:
            return self._charged(conn, LedgerEntry.from_row(inserted), caps, now)
        row = conn.execute(sa.select(_T).where(rows.lookup(key)).with_for_update()).mappings()
        existing = LedgerEntry.from_row(row.one())
        if existing.state in (_S.FAILED, _S.AMBIGUOUS) and existing.retryable:
            values = rows.rearmed(existing, run_id, now, state)
            return self._charged(conn, self._update(conn, existing.id, values), caps, now)
        if existing.reserved:
            if state is _S.SUBMITTING:
                values = {"state": state, "run_id": run_id, "updated_at": now}
                existing = self._update(conn, existing.id, values)
            return self._charged(conn, existing, caps, now)
        return existing

    def _charged(
        self, conn: sa.Connection, entry: LedgerEntry, caps: spend.SpendCaps | None, now: float
    ) -> LedgerEntry:
        """``entry`` handed out to be sent; a ``submitting`` one is checked against the caps
        and recorded as billed in the caller's transaction."""
        if entry.state is _S.SUBMITTING:
            spend.charge(conn, caps, postgres=self._postgres, entry=entry, now=now)
        return dataclasses.replace(entry, submit_now=True)

    def release_unsent(self, entry_id: int) -> LedgerEntry:
        """``submitting`` → reserved ``pending``: the POST provably did not reach Bria (a 429,
        a connection that never opened), so the row may be sent again by anyone, with no
        operator. A reserved row stays as it is."""
        entry_id = check.entry_id(entry_id)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.reserved:
                return entry
            if entry.state is not _S.SUBMITTING:
                raise LedgerStateError(entry_id, entry.state, "release it unsent")
            spend.refund(conn, entry_id, entry.attempts)
            return self._update(conn, entry_id, {"state": _S.PENDING})

    def mark_submitted(
        self,
        entry_id: int,
        request_id: str,
        status_url: str | None,
        next_poll_at: float,
        *,
        result: Mapping[str, Any] | None = None,
        result_url: str | None = None,
    ) -> LedgerEntry:
        """``submitting`` → ``pending``: the API accepted the job as ``request_id``.

        ``result`` / ``result_url``: a v1 answer of placeholder URLs (ads, ``sync: false``
        shots) and its first URL, kept in the same write, so that a wait interrupted before the
        files fill resumes on the same URLs instead of paying again (:meth:`mark_completed`
        records the answer again once every URL has its file).

        Repeating the call with the same request_id changes nothing. Raises
        :class:`DuplicateRequestIdError` if another entry holds ``request_id``.
        """
        kept: dict[str, Any] = {}
        if result is not None:
            kept["result"] = check.json_object("result", result, max_bytes=check.RESULT_MAX_BYTES)
            kept["result_url"] = check.optional_text("result_url", result_url, max_length=8192)
        entry_id = check.entry_id(entry_id)
        request_id = rows.short_text("request_id", request_id)
        status_url = check.optional_text("status_url", status_url, max_length=4096)
        next_poll_at = check.timestamp("next_poll_at", next_poll_at)
        try:
            with self._write() as conn:
                entry = self._locked(conn, entry_id)
                if entry.state is not _S.SUBMITTING:
                    if entry.request_id == request_id:
                        return entry
                    raise LedgerStateError(entry_id, entry.state, "mark it submitted")
                now = self._clock()
                return self._update(
                    conn,
                    entry_id,
                    {
                        "state": _S.PENDING,
                        "request_id": request_id,
                        "status_url": status_url,
                        "submitted_at": now,
                        "next_poll_at": next_poll_at,
                        "updated_at": now,
                        **kept,
                    },
                )
        except sa.exc.IntegrityError:
            raise DuplicateRequestIdError(request_id) from None

    def mark_ambiguous(self, entry_id: int, error: str) -> LedgerEntry:
        """``submitting`` → ``ambiguous``: the POST went out and its answer was lost.

        The job may exist and be billed; it is never resubmitted unless an operator calls
        :meth:`retry`.
        """
        entry_id = check.entry_id(entry_id)
        error = check.text("error", error, max_length=4096)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state is _S.AMBIGUOUS:
                return entry
            if entry.state is not _S.SUBMITTING:
                raise LedgerStateError(entry_id, entry.state, "mark it ambiguous")
            return self._update(
                conn,
                entry_id,
                {"state": _S.AMBIGUOUS, "error_message": error, "retryable": False},
            )

    # -- spend --------------------------------------------------------------------------------

    def cap_usage(
        self, caps: spend.SpendCaps, asset_key: str, run_id: str | None
    ) -> builtins.list[spend.CapUse]:
        """Each cap applying to ``asset_key`` in ``run_id``, with how much of it is used."""
        with self._read() as conn:
            return spend.usage(conn, caps, asset_key, run_id, self._clock())

    def scope_usage(self, caps: spend.SpendCaps) -> builtins.list[spend.CapUse]:
        """The scope's daily cap with how much of it is used now."""
        with self._read() as conn:
            return spend.scope_usage(conn, caps, self._clock())

    def spend_per(
        self, group: str, *, since: float, scope: str | None = None
    ) -> builtins.list[tuple[str, int]]:
        """Billed requests since ``since`` per ``day``, ``asset`` or ``run``."""
        with self._read() as conn:
            return list(spend.spend_by(conn, group, since=since, scope=scope))

    def billed_per_entry(self, entry_ids: Iterable[int]) -> dict[int, int]:
        """Billed POSTs (rows of ``bria_spend``) of each entry, all attempts; 0 is left out."""
        ids = sorted({check.entry_id(i, "entry_ids") for i in entry_ids})
        with self._read() as conn:
            return spend.billed_per_entry(conn, ids)

    def billed_in_run(self, asset_key: str, run_id: str) -> int:
        """Billed POSTs of ``asset_key`` in Dagster run ``run_id``."""
        with self._read() as conn:
            return spend.billed_in_run(conn, asset_key, run_id)

    # -- reading ------------------------------------------------------------------------------

    def find(
        self,
        asset_key: str,
        partition_key: str | None,
        payload_hash: str,
        forced_generation: int = 0,
    ) -> LedgerEntry | None:
        """The entry for this (asset, partition, payload, generation), or None."""
        key = rows.request_key(asset_key, partition_key, payload_hash, forced_generation)
        with self._read() as conn:
            row = conn.execute(sa.select(_T).where(rows.lookup(key))).mappings().first()
        return None if row is None else LedgerEntry.from_row(row)

    def latest(
        self, asset_key: str, partition_key: str | None, payload_hash: str
    ) -> LedgerEntry | None:
        """The entry of this request with the highest ``forced_generation``, or None.

        That is the request's current result: a forced refresh adds a generation, and a later
        materialization that is not forced reuses the newest one.
        """
        asset_key, partition_key, payload_hash, _ = rows.request_key(
            asset_key, partition_key, payload_hash, 0
        )
        stmt = (
            sa.select(_T)
            .where(
                _T.c.asset_key == asset_key,
                partition_key_expr == (partition_key or ""),
                _T.c.payload_hash == payload_hash,
            )
            .order_by(_T.c.forced_generation.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else LedgerEntry.from_row(row)

    def get(self, entry_id: int) -> LedgerEntry:
        """The entry with this id; raises :class:`EntryNotFoundError`."""
        entry_id = check.entry_id(entry_id)
        with self._read() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == entry_id)).mappings().first()
        if row is None:
            raise EntryNotFoundError(entry_id)
        return LedgerEntry.from_row(row)

    def get_many(self, entry_ids: Iterable[int]) -> builtins.list[LedgerEntry]:
        """The entries with these ids, oldest first; an id not found is left out."""
        ids = sorted({check.entry_id(i, "entry_ids") for i in entry_ids})
        if not ids:
            return []
        stmt = sa.select(_T).where(_T.c.id.in_(ids)).order_by(_T.c.id)
        with self._read() as conn:
            return [LedgerEntry.from_row(row) for row in conn.execute(stmt).mappings()]

    def by_request_id(self, request_id: str) -> LedgerEntry | None:
        """The entry holding this request_id, or None."""
        request_id = rows.short_text("request_id", request_id)
        with self._read() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.request_id == request_id)).mappings()
            found = row.first()
        return None if found is None else LedgerEntry.from_row(found)

    def counts(self) -> dict[EntryState, int]:
        """How many entries are in each state (every state is listed, zeros included)."""
        stmt = sa.select(_T.c.state, sa.func.count()).group_by(_T.c.state)
        with self._read() as conn:
            found = {EntryState(state): int(n) for state, n in conn.execute(stmt)}
        return {state: found.get(state, 0) for state in EntryState}

    def backlog(
        self, asset_keys: Iterable[str] | None = None, now: float | None = None
    ) -> tuple[int, int]:
        """(pending, due now) entries, optionally only of ``asset_keys``."""
        current = self._clock() if now is None else check.timestamp("now", now)
        due = sa.func.sum(sa.case((_T.c.next_poll_at <= current, 1), else_=0))
        stmt = sa.select(sa.func.count(), due).where(
            _T.c.state == _S.PENDING, _T.c.request_id.is_not(None)
        )
        if asset_keys is not None:
            keys = [check.text("asset_keys", key, max_length=512) for key in asset_keys]
            stmt = stmt.where(_T.c.asset_key.in_(keys))
        with self._read() as conn:
            pending, due_now = conn.execute(stmt).one()
        return int(pending), int(due_now or 0)

    def pending_count(self) -> int:
        """How many entries are ``pending`` (submitted, result not yet known)."""
        stmt = (
            sa.select(sa.func.count())
            .select_from(_T)
            .where(_T.c.state == _S.PENDING, _T.c.request_id.is_not(None))
        )
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def list(
        self,
        state: EntryState | str | None = None,
        asset_key: str | None = None,
        limit: int = 100,
        *,
        asset_keys: Iterable[str] | None = None,
        reported: bool | None = None,
        oldest_first: bool = False,
    ) -> builtins.list[LedgerEntry]:
        """Entries, newest first (or ``oldest_first``), optionally only those in ``state``, of
        ``asset_key`` or one of ``asset_keys``, and (un)``reported``."""
        order = _T.c.id.asc() if oldest_first else _T.c.id.desc()
        stmt = sa.select(_T).order_by(order)
        if state is not None:
            stmt = stmt.where(_T.c.state == rows.state("state", state))
        if asset_key is not None:
            stmt = stmt.where(_T.c.asset_key == check.text("asset_key", asset_key, max_length=512))
        if asset_keys is not None:
            keys = [check.text("asset_keys", key, max_length=512) for key in asset_keys]
            stmt = stmt.where(_T.c.asset_key.in_(keys))
        if reported is not None:
            stmt = stmt.where(_T.c.reported.is_(bool(reported)))
        stmt = stmt.limit(check.count("limit", limit, minimum=1))
        with self._read() as conn:
            return [LedgerEntry.from_row(row) for row in conn.execute(stmt).mappings()]

    def stuck_submitting(
        self, older_than_seconds: float, now: float | None = None
    ) -> builtins.list[LedgerEntry]:
        """Entries left in ``submitting`` for longer than ``older_than_seconds``, oldest first.

        A crash between :meth:`begin_submit` and :meth:`mark_submitted` leaves such a row: the
        POST may or may not have reached Bria. Report these; never resubmit them silently
        (:meth:`mark_ambiguous` then, after a decision, :meth:`retry` or :meth:`abandon`).
        """
        age = check.timestamp("older_than_seconds", older_than_seconds)
        current = self._clock() if now is None else check.timestamp("now", now)
        stmt = (
            sa.select(_T)
            .where(_T.c.state == _S.SUBMITTING, _T.c.updated_at <= current - age)
            .order_by(_T.c.updated_at, _T.c.id)
        )
        with self._read() as conn:
            return [LedgerEntry.from_row(row) for row in conn.execute(stmt).mappings()]

    def needing_attention(
        self, submitting_older_than: float, max_attempts: int, now: float | None = None
    ) -> builtins.list[LedgerEntry]:
        """Entries only an operator can settle, oldest change first: every ``ambiguous`` one,
        those in ``submitting`` for longer than ``submitting_older_than`` (see
        :meth:`stuck_submitting`), and ``failed`` ones nothing will resubmit by itself: not
        retryable, or retryable but tried ``max_attempts`` times already."""
        age = check.timestamp("submitting_older_than", submitting_older_than)
        max_attempts = check.count("max_attempts", max_attempts, minimum=1)
        current = self._clock() if now is None else check.timestamp("now", now)
        stmt = (
            sa.select(_T)
            .where(
                sa.or_(
                    _T.c.state == _S.AMBIGUOUS,
                    sa.and_(_T.c.state == _S.SUBMITTING, _T.c.updated_at <= current - age),
                    sa.and_(
                        _T.c.state == _S.FAILED,
                        sa.or_(_T.c.retryable.is_(False), _T.c.attempts >= max_attempts),
                    ),
                )
            )
            .order_by(_T.c.updated_at, _T.c.id)
        )
        with self._read() as conn:
            return [LedgerEntry.from_row(row) for row in conn.execute(stmt).mappings()]

    # -- polling ------------------------------------------------------------------------------

    def claim_due(
        self,
        owner: str,
        now: float | None = None,
        limit: int = 100,
        lease_seconds: float = 60.0,
        asset_keys: Iterable[str] | None = None,
    ) -> builtins.list[LedgerEntry]:
        """Lease up to ``limit`` due ``pending`` entries to ``owner``: the most overdue first
        (earliest ``next_poll_at``), the oldest submitted among equals.

        Most overdue, not oldest: a job that has run for an hour (video, training) has its next
        poll far out and must not take the slots of jobs that are due now.

        ``asset_keys`` limits the claim to those assets' entries.

        Due means ``next_poll_at <= now``. Rows leased by another owner until after ``now`` are
        skipped; ``owner``'s own live leases are renewed. The lease lasts ``lease_seconds`` or
        until the row is rescheduled, completed or failed. PostgreSQL locks the candidates with
        ``FOR UPDATE SKIP LOCKED``; SQLite holds its write lock (``BEGIN IMMEDIATE``) while the
        conditional UPDATE runs, so two pollers never get the same row.
        """
        owner = rows.short_text("owner", owner)
        current = self._clock() if now is None else check.timestamp("now", now)
        limit = check.count("limit", limit, minimum=1)
        lease = check.positive_seconds("lease_seconds", lease_seconds)
        due = rows.due(owner, current)
        if asset_keys is not None:
            keys = [check.text("asset_keys", key, max_length=512) for key in asset_keys]
            due = sa.and_(due, _T.c.asset_key.in_(keys))
        candidates = (
            sa.select(_T.c.id)
            .where(due)
            .order_by(_T.c.next_poll_at, _T.c.submitted_at, _T.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # Two statements, not UPDATE ... WHERE id IN (subquery): PostgreSQL may run such a
        # subquery more than once, and its LIMIT would no longer bound the claim.
        with self._write() as conn:
            ids = builtins.list(conn.execute(candidates).scalars())
            if not ids:
                return []
            stmt = (
                sa.update(_T)
                .where(_T.c.id.in_(ids), due)
                .values(lease_owner=owner, lease_until=current + lease)
                .returning(_T)
            )
            entries = [LedgerEntry.from_row(row) for row in conn.execute(stmt).mappings()]
        return sorted(entries, key=lambda e: (e.next_poll_at or 0.0, e.submitted_at or 0.0, e.id))

    def reschedule(self, entry_id: int, next_poll_at: float, poll_count: int) -> LedgerEntry:
        """Still running: poll again at ``next_poll_at``; record ``poll_count``; free the lease."""
        entry_id = check.entry_id(entry_id)
        next_poll_at = check.timestamp("next_poll_at", next_poll_at)
        poll_count = check.count("poll_count", poll_count)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state is not _S.PENDING:
                raise LedgerStateError(entry_id, entry.state, "reschedule its poll")
            return self._update(
                conn,
                entry_id,
                {"next_poll_at": next_poll_at, "poll_count": poll_count, **rows.released()},
            )

    def flag_for_poll(self, ref: EntryRef, code: str, note: str, poll_at: float) -> LedgerEntry:
        """Record an odd report on a ``pending`` entry and make it due for a status poll.

        The state does not change: ``code`` and ``note`` go into ``error_code`` and
        ``error_message`` (shown by ``bria-ledger list``; the next completion clears them) and
        ``next_poll_at`` moves to ``poll_at`` if that is sooner, so the poll's answer decides.
        ``ref`` is the entry id or its request_id.
        """
        code = check.text("code", code, max_length=64)
        note = check.text("note", note, max_length=4096)
        poll_at = check.timestamp("poll_at", poll_at)
        with self._write() as conn:
            entry = self._locked(conn, self._resolve(conn, ref))
            if entry.state is not _S.PENDING:
                raise LedgerStateError(entry.id, entry.state, "flag it for a poll")
            due = poll_at if entry.next_poll_at is None else min(entry.next_poll_at, poll_at)
            return self._update(
                conn, entry.id, {"error_code": code, "error_message": note, "next_poll_at": due}
            )

    def mark_completed(
        self,
        ref: EntryRef,
        result: Mapping[str, Any],
        result_url: str | None = None,
        *,
        poll_count: int | None = None,
    ) -> LedgerEntry:
        """``pending`` (or ``failed``) → ``completed`` with Bria's ``result`` object
        (``poll_count``: the polls made, counting the one that saw it finish).

        ``ref`` is the entry id (int) or its request_id (str, e.g. from a webhook). Idempotent:
        on a ``completed``, ``stored`` or ``abandoned`` entry it changes nothing (a duplicate
        webhook delivery, a poll racing a webhook). A late success overrides ``failed``: the
        work was done, so it is kept.
        """
        result = check.json_object("result", result, max_bytes=check.RESULT_MAX_BYTES)
        result_url = check.optional_text("result_url", result_url, max_length=8192)
        with self._write() as conn:
            entry = self._locked(conn, self._resolve(conn, ref))
            if entry.state in (_S.COMPLETED, _S.STORED, _S.ABANDONED):
                return entry
            if entry.state not in (_S.PENDING, _S.FAILED):
                raise LedgerStateError(entry.id, entry.state, "mark it completed")
            now = self._clock()
            return self._update(
                conn,
                entry.id,
                {
                    "state": _S.COMPLETED,
                    "result": result,
                    "result_url": result_url,
                    "completed_at": now,
                    "next_poll_at": None,
                    **({} if poll_count is None else {"poll_count": poll_count}),
                    "error_code": None,
                    "error_message": None,
                    "retryable": False,
                    "updated_at": now,
                    **rows.released(),
                },
            )

    def _resolve(self, conn: sa.Connection, ref: EntryRef) -> int:
        if isinstance(ref, str):
            request_id = rows.short_text("ref", ref)
            found = conn.execute(sa.select(_T.c.id).where(_T.c.request_id == request_id))
            entry_id = found.scalar_one_or_none()
            if entry_id is None:
                raise EntryNotFoundError(request_id)
            return int(entry_id)
        return check.entry_id(ref, "ref")

    def mark_failed(
        self,
        entry_id: int,
        code: int | str | None,
        message: str | None,
        retryable: bool = False,
    ) -> LedgerEntry:
        """``submitting``/``pending``/``completed`` → ``failed`` with Bria's error code/message.

        ``retryable=True`` lets the next :meth:`begin_submit` of the same request send a new
        POST. Set it only when that cannot pay twice for one result: the API provably did not
        process the submit (429, connection refused), or the job ended in an error. Failing a
        ``failed`` entry again updates its error.
        """
        entry_id = check.entry_id(entry_id)
        if code is not None and (isinstance(code, bool) or not isinstance(code, int | str)):
            raise BriaInputError("code", f"must be an int, a string or None, got {code!r}")
        message = check.optional_text("message", message, max_length=8192)
        if not isinstance(retryable, bool):
            raise BriaInputError("retryable", f"must be a bool, got {type(retryable).__name__}")
        allowed = (_S.SUBMITTING, _S.PENDING, _S.COMPLETED, _S.FAILED)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state not in allowed:
                raise LedgerStateError(entry_id, entry.state, "mark it failed")
            return self._update(
                conn,
                entry_id,
                {
                    "state": _S.FAILED,
                    "error_code": None if code is None else str(code)[:64],
                    "error_message": message,
                    "retryable": retryable,
                    "next_poll_at": None,
                    **rows.released(),
                },
            )

    # -- storing and reporting ----------------------------------------------------------------

    def mark_stored(self, entry_id: int, storage_uri: str, sha256: str) -> LedgerEntry:
        """``completed`` → ``stored``: the result now lives at ``storage_uri``.

        Repeating the call with the same URI and digest changes nothing; different ones raise
        :class:`LedgerStateError` (storage is write-once).
        """
        entry_id = check.entry_id(entry_id)
        storage_uri = check.text("storage_uri", storage_uri, max_length=4096)
        sha256 = check.sha256_hex("sha256", sha256)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state is _S.STORED:
                if (entry.storage_uri, entry.sha256) == (storage_uri, sha256):
                    return entry
                raise LedgerStateError(
                    entry_id, entry.state, "store it again", f"already at {entry.storage_uri}"
                )
            if entry.state is not _S.COMPLETED:
                raise LedgerStateError(entry_id, entry.state, "mark it stored")
            now = self._clock()
            return self._update(
                conn,
                entry_id,
                {
                    "state": _S.STORED,
                    "storage_uri": storage_uri,
                    "sha256": sha256,
                    "stored_at": now,
                    "updated_at": now,
                },
            )

    def mark_reported(self, entry_ids: Iterable[int]) -> int:
        """Flag ``stored`` entries as reported to Dagster; returns how many changed.

        A ``completed`` entry whose result is nothing to store (a tailored model's training,
        see :mod:`~bria_dagster.ledger.creations`) is reported from ``completed``."""
        ids = sorted({check.entry_id(i, "entry_ids") for i in entry_ids})
        changed = 0
        with self._write() as conn:
            for start in range(0, len(ids), _BATCH):
                stmt = (
                    sa.update(_T)
                    .where(
                        _T.c.id.in_(ids[start : start + _BATCH]),
                        sa.or_(
                            _T.c.state == _S.STORED,
                            sa.and_(_T.c.state == _S.COMPLETED, _T.c.endpoint == TRAINING_ENDPOINT),
                        ),
                        _T.c.reported.is_(False),
                    )
                    .values(reported=True, updated_at=self._clock())
                )
                changed += conn.execute(stmt).rowcount
        return changed

    # -- operator actions ---------------------------------------------------------------------

    def retry(self, entry_id: int) -> LedgerEntry:
        """Allow a ``failed`` or ``ambiguous`` entry to be submitted anew.

        The row is reset, not duplicated: it is marked ``retryable`` and the next
        :meth:`begin_submit` for the same request re-arms it (state ``submitting``, earlier
        attempt kept in ``history``) and sends a new, billed POST. ``forced_generation`` stays
        as it is, so the asset finds the row under its usual key. An entry stuck in
        ``submitting`` must first be marked :meth:`mark_ambiguous`.
        """
        entry_id = check.entry_id(entry_id)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state not in (_S.FAILED, _S.AMBIGUOUS):
                raise LedgerStateError(entry_id, entry.state, "retry it")
            return self._update(conn, entry_id, {"retryable": True})

    def abandon(self, entry_id: int) -> LedgerEntry:
        """Give up on an entry: it is never polled, stored or resubmitted again.

        A new paid request for the same payload needs a higher ``forced_generation``. A
        ``stored`` entry cannot be abandoned; abandoning twice changes nothing.
        """
        entry_id = check.entry_id(entry_id)
        with self._write() as conn:
            entry = self._locked(conn, entry_id)
            if entry.state is _S.ABANDONED:
                return entry
            if entry.state is _S.STORED:
                raise LedgerStateError(entry_id, entry.state, "abandon it")
            return self._update(
                conn,
                entry_id,
                {
                    "state": _S.ABANDONED,
                    "retryable": False,
                    "next_poll_at": None,
                    **rows.released(),
                },
            )

    # -- benchmarks and imports ---------------------------------------------------------------

    def bulk_insert_pending(self, pending: Iterable[PendingRow]) -> int:
        """Insert already-submitted requests as ``pending`` rows in one transaction.

        Meant for benchmarks and imports (one multi-row INSERT per 500 rows); returns the count.
        A row whose key or request_id exists makes the whole call fail.
        """
        now = self._clock()
        values = [rows.pending_row(i, row, now) for i, row in enumerate(pending)]
        with self._write() as conn:
            for start in range(0, len(values), _BATCH):
                conn.execute(sa.insert(_T), values[start : start + _BATCH])
        return len(values)

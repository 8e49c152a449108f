"""Spend caps: how many billed requests a run, a scope (code location or deployment) and an asset
may send, counted in the ledger so that every process and machine sharing it sees one count.

A request counts as *billed* from the moment its row turns ``submitting`` (its POST leaves and
Bria may bill it), whatever happens next (accepted, failed, answer lost), including each new
attempt an operator allows with ``bria-ledger retry``. A POST that provably did not leave (no
connection, a 429) is refunded. Each billed POST is one ``bria_spend`` row, written in the same
transaction as the switch to ``submitting`` (:meth:`Ledger.begin_submit
<bria_dagster.ledger.Ledger.begin_submit>`).

Atomicity: the caps are counted and the spend row written inside that one write transaction. On
SQLite it is ``BEGIN IMMEDIATE`` (one writer at a time for the whole file). On PostgreSQL the
transaction first takes a transaction-scoped advisory lock per cap (``pg_advisory_xact_lock``,
keys sorted so two transactions never deadlock): a rolling 24-hour window cannot be kept in a
counter row (old sends leave it as time passes), so the count is a ``COUNT(*)`` over the spend
rows, and the lock is what stops two transactions from both counting 99 of 100. An advisory
lock needs no pre-existing row to lock (no counter table to seed per scope) and is released by
the commit, even when the process dies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger.errors import LedgerError
from bria_dagster.ledger.schema import bria_spend

DAY_S = 86_400.0
"""The rolling window of the daily caps."""

DEFAULT_SCOPE = "default"

_S = bria_spend


class BudgetExceededError(LedgerError):
    """A request was not sent: it would exceed a spend cap. Its row stays ``pending`` (reserved),
    so raising the cap and running again resumes it."""

    def __init__(self, cap: Cap, used: int, wanted: int = 1) -> None:
        self.cap = cap
        self.used = used
        self.wanted = wanted
        super().__init__(
            f"spend cap reached, request(s) not sent: {cap.label} allows {cap.limit} billed "
            f"request(s), {used} already billed, {wanted} more needed. Raise {cap.setting} "
            "(or wait for the window to pass) and run again: the requests not sent stay "
            "pending in the ledger and resume without paying twice"
        )


@dataclass(frozen=True)
class Cap:
    """One limit: ``label`` says what it counts, ``setting`` where to raise it."""

    kind: str
    """``run``, ``day`` or ``asset_day``."""
    label: str
    setting: str
    limit: int
    key: str
    """What is counted: the run id, the scope, or scope and asset."""

    def condition(self, now: float) -> sa.ColumnElement[bool]:
        """The spend rows this cap counts at ``now``."""
        if self.kind == "run":
            return _S.c.run_id == self.key
        scope, _, asset = self.key.partition("\x00")
        window = sa.and_(_S.c.scope == scope, _S.c.sent_at > now - DAY_S)
        return sa.and_(window, _S.c.asset_key == asset) if self.kind == "asset_day" else window

    def lock_key(self) -> int:
        """A signed 64-bit PostgreSQL advisory-lock key for this cap."""
        digest = hashlib.blake2b(f"bria-cap:{self.kind}:{self.key}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)


@dataclass(frozen=True)
class SpendCaps:
    """The caps a step sends under; ``None`` means no cap. ``setting_prefix`` names where they
    are configured (e.g. ``"BriaResource."``), for the error message."""

    scope: str = DEFAULT_SCOPE
    per_run: int | None = None
    per_day: int | None = None
    per_asset_per_day: int | None = None
    setting_prefix: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.scope, str) or not 0 < len(self.scope) <= 256:
            raise BriaInputError("spend_scope", "must be a non-empty string of at most 256 chars")
        for name in ("per_run", "per_day", "per_asset_per_day"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise BriaInputError(
                    setting_of(name), f"must be a whole number >= 0 or unset, got {value!r}"
                )

    def caps_for(self, asset_key: str, run_id: str | None) -> list[Cap]:
        """The caps that apply to a request of ``asset_key`` in ``run_id``."""
        p = self.setting_prefix
        found: list[Cap] = []
        if self.per_run is not None and run_id is not None:
            label = f"the per-run cap of run {run_id}"
            found.append(Cap("run", label, p + setting_of("per_run"), self.per_run, run_id))
        if self.per_day is not None:
            label = f"the daily cap of scope {self.scope!r} (rolling 24 h)"
            found.append(Cap("day", label, p + setting_of("per_day"), self.per_day, self.scope))
        if self.per_asset_per_day is not None:
            label = f"the daily cap of asset {asset_key} in scope {self.scope!r} (rolling 24 h)"
            setting = p + setting_of("per_asset_per_day")
            key = f"{self.scope}\x00{asset_key}"
            found.append(Cap("asset_day", label, setting, self.per_asset_per_day, key))
        return found


def setting_of(name: str) -> str:
    """The resource field holding a :class:`SpendCaps` field."""
    return {
        "per_run": "max_requests_per_run",
        "per_day": "max_requests_per_day",
        "per_asset_per_day": "max_requests_per_asset_per_day",
    }.get(name, name)


def count(conn: sa.Connection, cap: Cap, now: float) -> int:
    """How many billed requests ``cap`` counts at ``now``."""
    return int(conn.execute(sa.select(sa.func.count()).where(cap.condition(now))).scalar_one())


def charge(
    conn: sa.Connection,
    caps: SpendCaps | None,
    *,
    postgres: bool,
    entry: Any,
    now: float,
) -> None:
    """Inside the transaction turning ``entry`` (a LedgerEntry) into ``submitting``: check every
    cap and record the billed POST, or raise :class:`BudgetExceededError` (the caller's
    transaction then rolls back, leaving the row as it was)."""
    scope = caps.scope if caps is not None else DEFAULT_SCOPE
    if caps is not None:
        applying = caps.caps_for(entry.asset_key, entry.run_id)
        if postgres:
            for key in sorted({cap.lock_key() for cap in applying}):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        for cap in applying:
            used = count(conn, cap, now)
            if used + 1 > cap.limit:
                raise BudgetExceededError(cap, used)
    conn.execute(
        sa.insert(_S).values(
            scope=scope,
            entry_id=entry.id,
            attempt=entry.attempts,
            asset_key=entry.asset_key,
            partition_key=entry.partition_key,
            endpoint=entry.endpoint,
            run_id=entry.run_id,
            sent_at=now,
        )
    )


def refund(conn: sa.Connection, entry_id: int, attempt: int) -> None:
    """The POST of ``entry_id``'s attempt provably did not leave: it is not billed."""
    conn.execute(sa.delete(_S).where(_S.c.entry_id == entry_id, _S.c.attempt == attempt))


@dataclass(frozen=True)
class CapUse:
    """A cap and how much of it is used now."""

    cap: Cap
    used: int

    @property
    def left(self) -> int:
        """Billed requests still allowed."""
        return max(self.cap.limit - self.used, 0)


def usage(
    conn: sa.Connection, caps: SpendCaps, asset_key: str, run_id: str | None, now: float
) -> list[CapUse]:
    """Each cap applying to ``asset_key`` in ``run_id`` with its current use."""
    return [CapUse(cap, count(conn, cap, now)) for cap in caps.caps_for(asset_key, run_id)]


def scope_usage(conn: sa.Connection, caps: SpendCaps, now: float) -> list[CapUse]:
    """The scope-wide caps (daily) with their use; per-run and per-asset caps are shown by
    :func:`spend_by`."""
    daily = [cap for cap in caps.caps_for("", None) if cap.kind == "day"]
    return [CapUse(cap, count(conn, cap, now)) for cap in daily]


GROUPS = ("day", "asset", "run")


def billed_per_entry(conn: sa.Connection, entry_ids: Sequence[int]) -> dict[int, int]:
    """Billed POSTs of each of ``entry_ids`` (all attempts); entries with none are left out."""
    found: dict[int, int] = {}
    for start in range(0, len(entry_ids), 500):
        rows = conn.execute(
            sa.select(_S.c.entry_id, sa.func.count())
            .where(_S.c.entry_id.in_(entry_ids[start : start + 500]))
            .group_by(_S.c.entry_id)
        ).all()
        found.update({int(entry_id): int(n) for entry_id, n in rows})
    return found


def billed_in_run(conn: sa.Connection, asset_key: str, run_id: str) -> int:
    """Billed POSTs of ``asset_key`` in ``run_id``."""
    where = sa.and_(_S.c.asset_key == asset_key, _S.c.run_id == run_id)
    return int(conn.execute(sa.select(sa.func.count()).where(where)).scalar_one())


def spend_by(
    conn: sa.Connection, group: str, *, since: float, scope: str | None = None
) -> Sequence[tuple[str, int]]:
    """Billed requests since ``since`` per UTC day (``YYYY-MM-DD``), asset or run, largest
    first (days: newest first)."""
    where = [_S.c.sent_at >= since]
    if scope is not None:
        where.append(_S.c.scope == scope)
    if group == "day":
        day = sa.cast(sa.func.floor(_S.c.sent_at / DAY_S), sa.BigInteger()).label("k")
        rows = conn.execute(
            sa.select(day, sa.func.count()).where(*where).group_by(day).order_by(day.desc())
        ).all()
        return [(_day_text(int(k)), int(n)) for k, n in rows]
    column = {"asset": _S.c.asset_key, "run": _S.c.run_id}.get(group)
    if column is None:
        raise BriaInputError("group", f"must be one of {', '.join(GROUPS)}")
    total = sa.func.count().label("n")
    rows = conn.execute(
        sa.select(column, total).where(*where).group_by(column).order_by(total.desc(), column)
    ).all()
    return [(str(k) if k is not None else "-", int(n)) for k, n in rows]


def _day_text(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()

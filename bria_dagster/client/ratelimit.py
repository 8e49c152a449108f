"""Client-side rate limiting: one budget per endpoint per token, shared between processes.

Bria limits each organisation per endpoint (status polls have their own budget) and answers 429
when a minute holds too many calls. The limiter takes a slot from a sliding-window-log bucket
(pyrate-limiter; see :mod:`bria_dagster.client.ratelimit_stores`) before every engine call, so
the calls of every process sharing the store stay under the limit.

A 429 still teaches something (:class:`Gate`):

* ``Retry-After`` blocks the endpoint for all callers until that moment: those of this process
  (the gate) and those of every process sharing the store (:meth:`BucketStore.block`);
* the endpoint's rate is halved (each call takes two slots, then four, ...; multiplicative
  decrease) and recovers by one step per quiet window (additive increase). Because the extra
  slots are written into the shared bucket, other processes feel the slowdown too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from pyrate_limiter import AbstractBucket, Decision, Rate, RateItem

from bria_dagster.client.errors import RateLimitStoreError
from bria_dagster.client.ratelimit_stores import BucketStore

STATUS_BUDGET = "/v2/status"
"""Every status poll spends from this one budget, whatever the job's endpoint."""

_CONTENDED_RETRY_S = 0.01
"""Pause before retrying when the store gave no wait (PostgreSQL table lock taken)."""


def send_margin_s(window_s: float) -> float:
    """How much longer than the server's window the client holds each slot.

    A slot is stamped when it is taken; the server counts the request when it arrives, after
    the client's own queueing (event loop, connection pool, other processes' turn at the store
    lock) and the network. Freed exactly one window after its stamp, a slot could let a burst
    reach the server while the server still counts the previous burst, which arrived late: the
    cause of the 429s that processes sharing one store saw. 5 % of the window, at most 2 s.
    """
    return min(0.05 * window_s, 2.0)


def token_fingerprint(token: str) -> str:
    """A short hash that names a token's budgets without revealing the token."""
    return hashlib.sha256(b"bria-dagster-budget:" + token.encode("utf-8")).hexdigest()[:16]


def budget_key(fingerprint: str, endpoint: str) -> str:
    """The bucket name of one endpoint's budget: safe as a SQL table or Redis key."""
    path_hash = hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:16]
    return f"bria_{fingerprint}_{path_hash}"


@dataclass
class Gate:
    """What 429s taught about one budget: a block until ``Retry-After`` and an AIMD penalty."""

    blocked_until: float = 0.0
    """``time.time()`` before which no caller may send."""
    penalty: int = 1
    """Slots each call took right after the last 429 (1 = full rate)."""
    penalized_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def weight(self, now: float, window_s: float) -> int:
        """Slots a call takes now: the penalty, less one per full window since the last 429."""
        if self.penalty == 1:
            return 1
        return max(1, self.penalty - int((now - self.penalized_at) / window_s))

    def note_rate_limited(
        self, *, now: float, retry_after: float | None, sent_at: float, window_s: float, limit: int
    ) -> None:
        """Record a 429 for a call sent at ``sent_at`` (``time.time()``).

        Only calls sent after the previous penalty halve the rate again, so a burst of 429s
        for calls that were already in flight counts once.
        """
        with self.lock:
            if retry_after:
                self.blocked_until = max(self.blocked_until, now + retry_after)
            if sent_at >= self.penalized_at:
                self.penalty = min(limit, 2 * self.weight(now, window_s))
                self.penalized_at = now


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """The store driver's failures (Redis, psycopg, sqlite3, file lock) as one typed error."""
    try:
        yield
    except RateLimitStoreError:
        raise
    except Exception as exc:
        raise RateLimitStoreError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


_GATES: dict[str, Gate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(key: str) -> Gate:
    """The process-wide gate of one budget."""
    with _GATES_LOCK:
        return _GATES.setdefault(key, Gate())


@dataclass
class _Budget:
    bucket: AbstractBucket
    key: str
    gate: Gate
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Serialises put-and-read-decision (a bucket keeps its last decision on itself)."""
    waiters: threading.Lock = field(default_factory=threading.Lock)
    """One thread of this process waits for the next slot at a time."""
    last_leak_ms: int = 0


class RateLimiter:
    """Takes slots from per-endpoint budgets; sync (:meth:`acquire`) and async."""

    def __init__(self, store: BucketStore, *, token: str, limit: int, window_s: float) -> None:
        self._store = store
        self._fingerprint = token_fingerprint(token)
        self._rate = Rate(limit, max(1, int((window_s + send_margin_s(window_s)) * 1000)))
        self.limit = limit
        self.window_s = window_s
        self._budgets: dict[str, _Budget] = {}
        self._budgets_lock = threading.Lock()
        self._async_waiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def key(self, endpoint: str) -> str:
        """The budget key of ``endpoint`` for this limiter's token."""
        return budget_key(self._fingerprint, endpoint)

    def gate(self, endpoint: str) -> Gate:
        """The shared gate of ``endpoint``'s budget."""
        return gate_for(self.key(endpoint))

    def _budget(self, endpoint: str) -> _Budget:
        with self._budgets_lock:
            budget = self._budgets.get(endpoint)
            if budget is None:
                key = self.key(endpoint)
                budget = _Budget(self._store.bucket(key, self._rate), key, gate_for(key))
                self._budgets[endpoint] = budget
            return budget

    def check(self) -> None:
        """Reach the store once without taking a slot; :class:`RateLimitStoreError` if it fails."""
        with _store_errors():
            self._store.check()

    def try_take(self, endpoint: str) -> float:
        """Take a slot if one is free: 0.0, else the seconds to wait before trying again.

        A store that cannot be reached raises :class:`RateLimitStoreError` (nothing was sent).
        """
        with _store_errors():
            return self._try_take(endpoint)

    def _try_take(self, endpoint: str) -> float:
        budget = self._budget(endpoint)
        gate = budget.gate
        now = time.time()
        if gate.blocked_until > now:
            return gate.blocked_until - now
        weight = gate.weight(now, self.window_s)
        # The time is read under the store's own lock (a file lock for SQLite): an item stamped
        # before waiting for that lock would count in the past and free its slot too early.
        store_lock = cast(
            contextlib.AbstractContextManager[object],
            budget.bucket.limiter_lock() or contextlib.nullcontext(),
        )
        with budget.lock, store_lock:
            shared_block = self._store.blocked_for(budget.bucket, budget.key)
            if shared_block > 0:
                return shared_block
            item = RateItem(self._fingerprint, int(budget.bucket.now()), weight)
            decision = budget.bucket.put_decision(item)
            assert isinstance(decision, Decision)  # the stores open sync buckets
            if decision.allowed:
                if item.timestamp - budget.last_leak_ms > self._rate.interval:
                    budget.bucket.leak(item.timestamp)
                    budget.last_leak_ms = item.timestamp
                return 0.0
        if decision.retry_after_ms is None:
            return _CONTENDED_RETRY_S
        return max(decision.retry_after_ms / 1000, 0.001)

    def acquire(self, endpoint: str) -> float:
        """Block until a slot of ``endpoint``'s budget is taken; return the seconds waited."""
        start = time.monotonic()
        with self._budget(endpoint).waiters:
            while (delay := self.try_take(endpoint)) > 0:
                time.sleep(delay)
        return time.monotonic() - start

    async def acquire_async(self, endpoint: str) -> float:
        """Like :meth:`acquire`, sleeping with asyncio (store I/O runs in a worker thread)."""
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        waiters = self._async_waiters.setdefault(loop, {}).setdefault(endpoint, asyncio.Lock())
        async with waiters:
            while True:
                if self._store.blocking_io:
                    delay = await asyncio.to_thread(self.try_take, endpoint)
                else:
                    delay = self.try_take(endpoint)
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
        return time.monotonic() - start

    def note_rate_limited(self, endpoint: str, retry_after: float | None, sent_at: float) -> None:
        """Tell every caller of ``endpoint`` about a 429 (see :class:`Gate`); a ``Retry-After``
        also blocks the processes sharing the store."""
        if retry_after:
            with _store_errors():
                budget = self._budget(endpoint)
                self._store.block(budget.bucket, budget.key, retry_after)
        self.gate(endpoint).note_rate_limited(
            now=time.time(),
            retry_after=retry_after,
            sent_at=sent_at,
            window_s=self.window_s,
            limit=self.limit,
        )

    def close(self) -> None:
        """Close the store's connections."""
        self._store.close()

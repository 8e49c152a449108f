"""Group commit: the ledger writes of many concurrent jobs, one transaction per group.

Each ledger write is one transaction, and each commit waits for the disk (SQLite syncs its WAL
on every commit, one writer at a time). A step sending 600 jobs would wait for 2,400 commits in
a row, and each job's "about to POST" row would queue behind the others'. :class:`GroupedWrites`
keeps one writer thread: the writes queued while it writes one group form the next
(:meth:`~bria_dagster.ledger.ledger.Ledger.write_each`), so the number of commits follows the
disk's speed, not the number of jobs, and a lone write waits for no one.

Durability is unchanged: a caller's write is reported done (its future resolved) only after the
commit that holds it returned, so whatever the caller does next (send the POST that
``begin_submit`` recorded, move on from a result it recorded) happens after the row is on disk,
as with a transaction of its own. A kill -9 before that commit loses the whole group, and every
caller of the group was still waiting: none of them had acted on it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from bria_dagster.ledger.ledger import Ledger

T = TypeVar("T")

MAX_GROUP = 256
"""Writes per transaction at most (the transaction holds the write lock meanwhile)."""

IDLE_EXIT_S = 2.0
"""The writer thread ends after this long without work (the next write starts it again)."""

_Queued = tuple[Callable[[], Any], "Future[Any]"]


class GroupedWrites:
    """Runs writes on ``ledger`` from one thread, each group of queued writes in one transaction.

    A write is a call of one of the ledger's write methods with its arguments
    (``functools.partial(ledger.mark_stored, entry_id, uri, sha256)``); its answer, or the
    exception it raised, comes back through :meth:`submit`'s future, :meth:`call` (from a
    thread) or :meth:`run` (from a coroutine). A write that raises is rolled back alone; a
    commit that fails fails every write of its group.
    """

    def __init__(self, ledger: Ledger, *, max_group: int = MAX_GROUP) -> None:
        self._ledger = ledger
        self._max_group = max_group
        self._queue: list[_Queued] = []
        self._urgent: list[_Queued] = []
        self._wake = threading.Condition()
        self._running = False
        self.commits = 0
        """Transactions committed so far (for benchmarks and tests)."""
        self.writes = 0
        """Writes committed so far."""

    def submit(self, write: Callable[[], T], *, urgent: bool = False) -> Future[T]:
        """Queue ``write``; the future resolves once the transaction holding it committed.

        ``urgent`` writes (something waits on them: a POST on its ``begin_submit``) go into the
        next group before the others."""
        future: Future[T] = Future()
        with self._wake:
            (self._urgent if urgent else self._queue).append((write, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name="bria-ledger-writes", daemon=True).start()
            self._wake.notify()
        return future

    def call(self, write: Callable[[], T], *, urgent: bool = False) -> T:
        """Run ``write`` in the next group and wait for its commit (from a worker thread)."""
        return self.submit(write, urgent=urgent).result()

    async def run(self, write: Callable[[], T], *, urgent: bool = False) -> T:
        """Run ``write`` in the next group; the event loop goes on while the disk is waited for."""
        return await asyncio.wrap_future(self.submit(write, urgent=urgent))

    def _work(self) -> None:
        while True:
            with self._wake:
                if not self._queue and not self._urgent:
                    self._wake.wait(IDLE_EXIT_S)
                if not self._queue and not self._urgent:
                    self._running = False
                    return
                group = self._urgent[: self._max_group]
                del self._urgent[: self._max_group]
                room = self._max_group - len(group)
                group += self._queue[:room]
                del self._queue[:room]
            # A write whose caller gave up before its group began is dropped (never run).
            live = [(write, fut) for write, fut in group if fut.set_running_or_notify_cancel()]
            if live:
                self._write(live)

    def _write(self, live: list[_Queued]) -> None:
        try:
            answers = self._ledger.write_each([write for write, _ in live])
        except BaseException as exc:  # the commit failed: no write of the group happened
            for _, future in live:
                future.set_exception(exc)
            return
        self.commits += 1
        self.writes += len(live)
        for (_, future), answer in zip(live, answers, strict=True):
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

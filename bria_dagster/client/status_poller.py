"""One asyncio loop that waits for many jobs within the status budget.

The loop keeps every job in a heap ordered by when its next poll is due. It takes a slot of the
status budget for the most-due job, then sends that poll (up to ``max_in_flight`` at once), so
the number of jobs never changes how fast status calls go out: only the budget does.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from bria_dagster.client.errors import BriaError
from bria_dagster.client.polling import POLL_HICCUPS, JobOutcome, JobWatch
from bria_dagster.client.results import JobStatus

FetchStatus = Callable[[str], Awaitable[JobStatus]]
"""Send one status poll (no retries, no budget: the poller takes care of both)."""
TakeSlot = Callable[[], Awaitable[object]]
"""Wait for a slot of the status budget."""


class StatusPoller:
    """Polls a batch of jobs from one loop; yields each job's :class:`JobOutcome` as it ends."""

    def __init__(self, fetch: FetchStatus, take_slot: TakeSlot, *, max_in_flight: int) -> None:
        self._fetch = fetch
        self._take_slot = take_slot
        self._max_in_flight = max_in_flight

    async def outcomes(self, watches: list[JobWatch]) -> AsyncGenerator[JobOutcome, None]:
        """Yield one outcome per watched job, in the order the jobs end."""
        due: list[tuple[float, int]] = [(watch.due, watch.index) for watch in watches]
        heapq.heapify(due)
        by_index = {watch.index: watch for watch in watches}
        ended: asyncio.Queue[JobOutcome | BaseException] = asyncio.Queue()
        wake = asyncio.Event()
        in_flight = asyncio.Semaphore(self._max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def poll(watch: JobWatch) -> None:
            outcome: JobOutcome | None = None
            try:
                status = await self._fetch(watch.request_id)
                result = watch.observe(status, time.monotonic())
                if result is not None:
                    outcome = JobOutcome(watch.index, watch.request_id, result=result)
            except POLL_HICCUPS as exc:
                watch.hiccup(exc, time.monotonic())
            except BriaError as exc:
                outcome = JobOutcome(watch.index, watch.request_id, error=exc)
            except Exception as exc:  # not a job's fate: stop the batch rather than hang
                ended.put_nowait(exc)
                return
            finally:
                in_flight.release()
            if outcome is None and watch.expired(time.monotonic()):
                error = watch.timeout_error(time.monotonic())
                outcome = JobOutcome(watch.index, watch.request_id, error=error)
            if outcome is None:
                heapq.heappush(due, (watch.due, watch.index))
                wake.set()
            else:
                ended.put_nowait(outcome)

        async def dispatch() -> None:
            while True:
                wake.clear()
                if not due:
                    await wake.wait()
                    continue
                delay = due[0][0] - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), delay)
                    continue
                _, index = heapq.heappop(due)
                await in_flight.acquire()
                await self._take_slot()
                task = asyncio.create_task(poll(by_index[index]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def dispatch_or_report() -> None:
            try:
                await dispatch()
            except Exception as exc:  # a bug or a store failure must not hang the consumer
                ended.put_nowait(exc)

        dispatcher = asyncio.create_task(dispatch_or_report())
        try:
            for _ in watches:
                item = await ended.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            dispatcher.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(dispatcher, *tasks, return_exceptions=True)

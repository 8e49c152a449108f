"""One asyncio loop that waits for many jobs within the status budget.

The loop keeps every job in a :class:`~bria_dagster.client.poll_plan.PollQueue`, ordered by
when its next poll is due under the client's :class:`~bria_dagster.client.poll_plan.PollPlan`
(the learned latency of the job's family, and a threshold that rises when the outstanding jobs
exceed the budget left). It takes a slot of the status budget for the most-due job, then sends
that poll (up to ``max_in_flight`` at once), so the number of jobs never changes how fast
status calls go out: only the budget does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from bria_dagster.client.errors import BriaError
from bria_dagster.client.poll_plan import REPLAN_EVERY_S, PollPlan, PollQueue
from bria_dagster.client.polling import POLL_HICCUPS, JobOutcome, JobWatch
from bria_dagster.client.results import JobStatus

FetchStatus = Callable[[str], Awaitable[JobStatus]]
"""Send one status poll (no retries, no budget: the poller takes care of both)."""
TakeSlot = Callable[[], Awaitable[object]]
"""Wait for a slot of the status budget."""


class StatusPoller:
    """Polls a batch of jobs from one loop; yields each job's :class:`JobOutcome` as it ends."""

    def __init__(
        self, fetch: FetchStatus, take_slot: TakeSlot, *, max_in_flight: int, plan: PollPlan
    ) -> None:
        self._fetch = fetch
        self._take_slot = take_slot
        self._max_in_flight = max_in_flight
        self._plan = plan

    async def outcomes(self, watches: list[JobWatch]) -> AsyncGenerator[JobOutcome, None]:
        """Yield one outcome per watched job, in the order the jobs end."""
        queue = PollQueue(self._plan, watches, time.monotonic())
        ended: asyncio.Queue[JobOutcome | BaseException] = asyncio.Queue()
        wake = asyncio.Event()
        in_flight = asyncio.Semaphore(self._max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def poll(watch: JobWatch) -> None:
            outcome: JobOutcome | None = None
            done_at: float | None = None
            try:
                status = await self._fetch(watch.request_id)
                now = time.monotonic()
                result = watch.observe(status, now)
                if result is not None:
                    outcome = JobOutcome(watch.index, watch.request_id, result=result)
                    done_at = now
                else:
                    queue.running(watch, now)
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
                queue.push(watch)
                wake.set()
            else:
                queue.ended(watch, done_at)
                ended.put_nowait(outcome)

        async def dispatch() -> None:
            while True:
                wake.clear()
                now = time.monotonic()
                watch = queue.pop(now)
                if watch is None:
                    wait = queue.wait_s(now)
                    if wait is None:
                        await wake.wait()
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), min(wait, REPLAN_EVERY_S))
                    continue
                await in_flight.acquire()
                await self._take_slot()
                queue.sent(time.monotonic())
                task = asyncio.create_task(poll(watch))
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
            queue.close()
            dispatcher.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(dispatcher, *tasks, return_exceptions=True)

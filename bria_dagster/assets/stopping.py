"""Stopping a step at a safe point when its run is terminated.

Dagster stops a terminated run's steps differently per executor:

- the multiprocess executor interrupts the step's process (SIGINT); Dagster turns an interrupt
  into a retry when the step has a retry policy ("failed and has requested a retry"), although
  the run is being cancelled;
- the Celery executor revokes the run's tasks without terminating them (dagster-celery's
  ``core_execution_loop``): a step already running in a worker carries on, and materializes
  into a run already marked CANCELED.

A Bria step therefore watches for both: it captures interrupts (so that none lands in the middle
of a POST) and reads its run's status about once a second. When either says stop, the step stops
at the next safe point (between status polls, before storing a result, before materializing)
and fails without retry; every request stays in the ledger (pending or completed) and the next
run resumes it without paying again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import dagster as dg

# Dagster's own interrupt capture (the one its executors use): a SIGINT, or a SIGTERM mapped to
# it, sets a flag instead of raising wherever the step happens to be.
from dagster._utils.interrupts import capture_interrupts, check_captured_interrupt

STOPPING_STATUSES = frozenset({dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED})

RUN_STATUS_INTERVAL_S = 1.0
"""How often a step reads its run's status (one indexed query on the run storage)."""


class StepStopped(Exception):
    """The step's run was terminated; the step stopped at a safe point."""


class RunStopWatch:
    """Says whether the step's run has been asked to stop (interrupt or run status)."""

    def __init__(
        self, instance: dg.DagsterInstance, run_id: str, interval_s: float = RUN_STATUS_INTERVAL_S
    ) -> None:
        self._instance = instance
        self._run_id = run_id
        self._interval_s = interval_s
        self._checked_at = float("-inf")
        self._stopping = False
        self.reason = ""

    def __call__(self) -> bool:
        """True once the run is being cancelled (checked at most every ``interval_s``)."""
        if self._stopping:
            return True
        if check_captured_interrupt():
            self._stop("the step was interrupted (the run is being terminated)")
        elif time.monotonic() - self._checked_at >= self._interval_s:
            self._checked_at = time.monotonic()
            run = self._instance.get_run_by_id(self._run_id)
            if run is not None and run.status in STOPPING_STATUSES:
                self._stop(f"run {self._run_id} is {run.status.value}")
        return self._stopping

    def _stop(self, reason: str) -> None:
        self._stopping = True
        self.reason = reason

    def failure(self, asset_key: str) -> dg.Failure:
        """The step's failure once stopped: no retry, the ledger keeps every request."""
        return dg.Failure(
            description=(
                f"{asset_key}: stopped, {self.reason or 'the run was terminated'}. Its Bria "
                "requests stay in the ledger; the next run resumes them without paying again."
            ),
            allow_retries=False,
        )

    def raise_if_stopped(self, asset_key: str) -> None:
        """Raise :meth:`failure` if the run has been asked to stop (checks now)."""
        self._checked_at = float("-inf")
        if self():
            raise self.failure(asset_key)


@contextlib.contextmanager
def watching_run(context: dg.AssetExecutionContext, asset_key: str) -> Iterator[RunStopWatch]:
    """Capture interrupts for the block and yield a :class:`RunStopWatch` of the step's run.

    A :class:`StepStopped` raised in the block, or a stop noticed as it ends, becomes the
    watch's :meth:`~RunStopWatch.failure` (no retry).
    """
    watch = RunStopWatch(context.instance, context.run.run_id)
    with capture_interrupts():
        try:
            yield watch
        except StepStopped:
            raise watch.failure(asset_key) from None
        watch.raise_if_stopped(asset_key)

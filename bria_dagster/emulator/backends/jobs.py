"""Job records and their state, derived lazily from the clock (no timer per job).

A job is IN_PROGRESS until both its work has finished (in a worker thread) and its drawn latency
has elapsed (``done_at``); it then reads COMPLETED, ERROR or UNKNOWN. 10,000 pending jobs cost
10,000 small records and nothing else.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from bria_dagster.client.results import JobState
from bria_dagster.emulator.errors import ApiError


@dataclass(eq=False)
class Job:
    """One accepted request."""

    request_id: str
    endpoint: str
    family: str
    seed: int
    submitted_at: float
    done_at: float
    """Clock time before which the job reads IN_PROGRESS whatever its work's progress."""
    webhook_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    """The submitting token, kept only to sign this job's webhook."""
    ends_as: JobState | None = None
    """A forced end (ERROR / UNKNOWN) chosen by fault injection."""
    warning: str | None = None
    result: dict[str, Any] | None = None
    error: ApiError | None = None
    finished: bool = False
    """Set (last) by the worker when ``result`` or ``error`` is final."""
    placeholder: bool = False
    """A v1 call answered at once with placeholder URLs: its files answer 404 until
    ``done_at`` (bria-api.md §5.2, §5.4)."""
    future: Future[None] | None = field(default=None, repr=False)

    def state(self, now: float) -> JobState:
        """The state a status read at ``now`` reports."""
        if not self.finished or now < self.done_at:
            return JobState.IN_PROGRESS
        if self.error is None:
            return JobState.COMPLETED
        return self.ends_as or JobState.ERROR


class JobStore:
    """All jobs by request_id. Thread-safe for the operations it offers."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        """Record a new job."""
        with self._lock:
            self._jobs[job.request_id] = job
        return job

    def get(self, request_id: str) -> Job | None:
        """The job with this id, if any."""
        return self._jobs.get(request_id)

    def __len__(self) -> int:
        return len(self._jobs)

    def by_state(self, now: float) -> dict[str, int]:
        """How many jobs are in each state at ``now``."""
        with self._lock:
            jobs = list(self._jobs.values())
        return dict(Counter(job.state(now).value for job in jobs))

    def clear(self) -> None:
        """Forget every job."""
        with self._lock:
            self._jobs = {}

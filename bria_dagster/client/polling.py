"""When to ask the Status Service about a job, and what its answers mean for the wait.

Pure objects (no I/O): :class:`PollSchedule` says how long to wait before each poll,
:class:`JobWatch` follows one job through its polls, :class:`JobOutcome` is how one job of a
batch ended. The sync and async clients drive them with their own sleeps.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from bria_dagster.client.catalog.families import FAMILIES
from bria_dagster.client.catalog.registry import family_of
from bria_dagster.client.errors import (
    BriaConnectionError,
    BriaError,
    BriaInputError,
    JobFailedError,
    RateLimitError,
    ServerError,
    WaitTimeoutError,
)
from bria_dagster.client.results import JobResult, JobState, JobStatus, Submission
from bria_dagster.client.settings import ClientSettings

POLL_HICCUPS = (RateLimitError, ServerError, BriaConnectionError)
"""Errors of a single status poll that never fail a job: the wait polls again later."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def check_request_id(value: object) -> str:
    """A request_id safe to put in a URL path; :class:`BriaInputError` otherwise."""
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise BriaInputError("request_id", f"{value!r} is not a Bria request id")
    return value


def finished_result(status: JobStatus, request_id: str | None = None) -> JobResult | None:
    """The result of a COMPLETED job, None while IN_PROGRESS or when the status is not one
    Bria documents (:attr:`JobStatus.unrecognised`: keep polling, never resubmit on it);
    ERROR/UNKNOWN raise :class:`JobFailedError` with Bria's error."""
    rid = status.request_id or request_id or ""
    if status.unrecognised is not None:
        return None
    if status.status is JobState.COMPLETED:
        return status.result or JobResult(request_id=rid)
    if status.status is JobState.IN_PROGRESS:
        return None
    error = status.error
    raise JobFailedError(
        rid,
        status.status.value,
        code=error.code if error else None,
        message=error.message if error else None,
        details=error.details if error else None,
    )


@dataclass(frozen=True)
class PollSchedule:
    """Delays between status polls of one job.

    The first poll comes after the endpoint family's expected latency (times a factor); later gaps
    start at ``interval_s`` and grow by ``growth`` up to ``max_interval_s``. Each delay is
    shortened by a random share of up to ``jitter`` so that jobs started together spread out.
    """

    first_delay_s: float
    interval_s: float = 2.0
    growth: float = 1.5
    max_interval_s: float = 15.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def for_endpoint(cls, endpoint: str | None, settings: ClientSettings) -> PollSchedule:
        """The schedule of a job on ``endpoint`` (family ``other`` when unknown)."""
        family = family_of(endpoint) if endpoint else FAMILIES["other"]
        latency = family.expected_latency_s
        return cls(
            first_delay_s=latency * settings.poll_first_factor,
            interval_s=settings.poll_interval_s,
            growth=settings.poll_growth,
            max_interval_s=settings.poll_max_interval_s,
            jitter=settings.poll_jitter,
        )

    def next_delay(self, attempt: int) -> float:
        """Seconds to wait before poll number ``attempt`` (0 = the first poll after submitting)."""
        if attempt <= 0:
            base = self.first_delay_s
        else:
            base = min(self.max_interval_s, self.interval_s * self.growth ** min(attempt - 1, 64))
        return base * (1.0 - self.jitter * self.rng.random())


@dataclass
class JobWatch:
    """One job being waited for: when it is next due for a poll, and until when to wait.

    Times are ``time.monotonic()`` values. The last poll happens at the deadline at the latest.
    """

    index: int
    request_id: str
    schedule: PollSchedule
    started: float
    deadline: float
    due: float
    polls: int = 0
    origin: float = 0.0
    """``time.monotonic()`` value of the submit (of the start of the wait for a bare id)."""
    family: str = "other"
    prior_median_s: float = 5.0
    """The family's expected latency times ``poll_first_factor``: the plan's prior median."""
    last_running_age: float = 0.0
    """Age (seconds since ``origin``) of the last IN_PROGRESS answer; 0 before any."""
    not_before: float = 0.0
    """No poll before this moment (a ``Retry-After``)."""

    @classmethod
    def start(
        cls,
        job: Submission | str,
        *,
        index: int,
        endpoint: str | None,
        settings: ClientSettings,
        timeout: float | None,
        now: float,
        wall_now: float,
    ) -> JobWatch:
        """Watch a fresh :class:`Submission` (first poll at submit time + first delay) or a
        bare request_id (a resumed wait: first poll at once)."""
        if timeout is not None and not timeout > 0:
            raise BriaInputError("timeout", "must be a positive number of seconds")
        if isinstance(job, Submission):
            request_id = check_request_id(job.request_id)
            endpoint = endpoint or job.endpoint
            schedule = PollSchedule.for_endpoint(endpoint, settings)
            first = max(0.0, job.submitted_at + schedule.next_delay(0) - wall_now)
            origin = now - max(0.0, wall_now - job.submitted_at)
        else:
            request_id = check_request_id(job)
            schedule = PollSchedule.for_endpoint(endpoint, settings)
            first = 0.0
            origin = now
        family = family_of(endpoint) if endpoint else FAMILIES["other"]
        deadline = now + (settings.wait_timeout_s if timeout is None else timeout)
        return cls(
            index,
            request_id,
            schedule,
            now,
            deadline,
            min(deadline, now + first),
            origin=origin,
            family=family.name,
            prior_median_s=family.expected_latency_s * settings.poll_first_factor,
        )

    def observe(self, status: JobStatus, now: float) -> JobResult | None:
        """Take a status answer: the result when COMPLETED, None when the job still runs.

        Raises :class:`JobFailedError` for ERROR and UNKNOWN.
        """
        self.polls += 1
        result = finished_result(status, self.request_id)
        if result is None:
            self._reschedule(now, 0.0)
        return result

    def hiccup(self, error: BriaError, now: float) -> None:
        """A poll failed transiently: poll again later (not before a given ``Retry-After``)."""
        self.polls += 1
        pause = getattr(error, "retry_after", None) or 0.0
        self.not_before = now + pause
        self._reschedule(now, pause)

    def _reschedule(self, now: float, at_least: float) -> None:
        self.due = min(self.deadline, now + max(at_least, self.schedule.next_delay(self.polls)))

    def expired(self, now: float) -> bool:
        """True once the deadline has passed."""
        return now >= self.deadline

    def timeout_error(self, now: float) -> WaitTimeoutError:
        """The error that ends a wait that ran out of time."""
        return WaitTimeoutError(self.request_id, now - self.started)


@dataclass(frozen=True)
class JobOutcome:
    """How one job of a batch ended: ``result`` or ``error`` (never both)."""

    index: int
    """Position of the job in the batch given to ``wait_many``/``as_completed``."""
    request_id: str
    result: JobResult | None = None
    error: BriaError | None = None

    @property
    def ok(self) -> bool:
        """True when the job completed."""
        return self.error is None

    def unwrap(self) -> JobResult:
        """The result, or raise the job's error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

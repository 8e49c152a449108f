"""Usage counters kept by a client: what it spent, where it waited."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UsageSnapshot:
    """A copy of the counters at one moment; safe to attach as metadata."""

    calls: dict[str, int] = field(default_factory=dict)
    """HTTP requests sent to the engine, by endpoint path (retries and polls included)."""
    status_polls: int = 0
    rate_limited: int = 0
    """429 answers received."""
    retries: int = 0
    limiter_wait_s: float = 0.0
    """Seconds spent waiting for a slot of the client-side rate limiter."""
    retry_wait_s: float = 0.0
    """Seconds slept between attempts (backoff, or a 429's Retry-After)."""
    job_wait_s: float = 0.0
    """Seconds spent in ``wait``/``wait_many`` for jobs to finish."""
    downloads: int = 0
    downloaded_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "calls": dict(self.calls),
            "status_polls": self.status_polls,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "limiter_wait_s": round(self.limiter_wait_s, 3),
            "retry_wait_s": round(self.retry_wait_s, 3),
            "job_wait_s": round(self.job_wait_s, 3),
            "downloads": self.downloads,
            "downloaded_bytes": self.downloaded_bytes,
        }


class UsageCounters:
    """Thread-safe counters; :meth:`snapshot` returns an immutable copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._numbers: Counter[str] = Counter()
        self._seconds: dict[str, float] = {
            "limiter_wait_s": 0.0,
            "retry_wait_s": 0.0,
            "job_wait_s": 0.0,
        }

    def call(self, endpoint: str, *, status_poll: bool = False) -> None:
        """Count one request sent to ``endpoint``."""
        with self._lock:
            self._calls[endpoint] += 1
            if status_poll:
                self._numbers["status_polls"] += 1

    def count(self, name: str, amount: int = 1) -> None:
        """Add to ``rate_limited``, ``retries``, ``downloads`` or ``downloaded_bytes``."""
        with self._lock:
            self._numbers[name] += amount

    def waited(self, name: str, seconds: float) -> None:
        """Add to ``limiter_wait_s``, ``retry_wait_s`` or ``job_wait_s``."""
        with self._lock:
            self._seconds[name] += seconds

    def snapshot(self) -> UsageSnapshot:
        """The counters as they are now."""
        with self._lock:
            return UsageSnapshot(
                calls=dict(self._calls),
                status_polls=self._numbers["status_polls"],
                rate_limited=self._numbers["rate_limited"],
                retries=self._numbers["retries"],
                limiter_wait_s=self._seconds["limiter_wait_s"],
                retry_wait_s=self._seconds["retry_wait_s"],
                job_wait_s=self._seconds["job_wait_s"],
                downloads=self._numbers["downloads"],
                downloaded_bytes=self._numbers["downloaded_bytes"],
            )

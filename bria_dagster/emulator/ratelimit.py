"""Bria's rate limit: N requests per sliding window, per API token and per endpoint path.

Built on pyrate-limiter's in-memory sliding-window log. Tokens are kept only as a hash.
"""

from __future__ import annotations

import hashlib
import math
import threading

from pyrate_limiter import Decision, InMemoryBucket, Rate, RateItem
from pyrate_limiter.clocks import MonotonicClock

_LEAK_EVERY = 1024
"""Drop expired entries from a bucket every this many admitted requests."""


def token_hash(token: str) -> str:
    """A short, stable, non-reversible name for a token (safe for stats and keys)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


class RateLimiter:
    """Sliding-window limiter: ``acquire`` admits a request or says how long to wait."""

    def __init__(self, rpm: int | None, window_s: float) -> None:
        self._clock = MonotonicClock()
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], InMemoryBucket] = {}
        self._puts = 0
        self._setting: tuple[int | None, float] | None = None
        self._limit: Rate | None = None
        self.configure(rpm, window_s)

    def configure(self, rpm: int | None, window_s: float) -> None:
        """Change the limit; counting starts afresh when it changed."""
        if self._setting != (rpm, window_s):
            self._setting = (rpm, window_s)
            self._limit = None if rpm is None else Rate(rpm, max(1, round(window_s * 1000)))
            self.reset()

    def reset(self) -> None:
        """Forget every request seen."""
        with self._lock:
            self._buckets = {}

    def acquire(self, token_key: str, endpoint: str) -> int | None:
        """Count one request. ``None`` when admitted, else the seconds until a slot frees (>= 1)."""
        if self._limit is None:
            return None
        key = (token_key, endpoint)
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                bucket = self._buckets.setdefault(key, InMemoryBucket([self._limit]))
        now = self._clock.now()
        decision = bucket.put_decision(RateItem(endpoint, now))
        assert isinstance(decision, Decision)  # an in-memory bucket decides synchronously
        if decision.allowed:
            self._puts += 1
            if self._puts % _LEAK_EVERY == 0:
                bucket.leak(now)
            return None
        wait_ms = decision.retry_after_ms or self._limit.interval
        return max(1, math.ceil(wait_ms / 1000))

"""What the emulator received and did, for tests and benchmarks (``GET /_emulator/stats``)."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field


class WebhookStats(BaseModel):
    """Webhook delivery counts."""

    delivered: int = 0
    """Deliveries that got a 2xx."""
    failed_attempts: int = 0
    """Attempts that got a non-2xx or no answer."""
    retries: int = 0
    """Attempts after the first, per job."""
    gave_up: int = 0
    """Jobs whose every attempt failed."""


class StatsSnapshot(BaseModel):
    """A copy of the counters at one moment."""

    requests: dict[str, int] = Field(default_factory=dict)
    """API requests per ``"METHOD /path/{template}"`` (all answers, 401 and 429 included)."""
    submits: dict[str, int] = Field(default_factory=dict)
    """Jobs created (billed) per endpoint path."""
    rate_limited: dict[str, int] = Field(default_factory=dict)
    """429 answers per rate-limited endpoint (``/v2/status`` for status polls)."""
    status_polls: dict[str, int] = Field(default_factory=dict)
    """Status reads per known request_id."""
    status_polls_total: int = 0
    """Every authorised status read, unknown ids included."""
    jobs: dict[str, int] = Field(default_factory=dict)
    """Jobs by their current state (IN_PROGRESS, COMPLETED, ERROR, UNKNOWN)."""
    webhooks: WebhookStats = Field(default_factory=WebhookStats)
    faults: dict[str, int] = Field(default_factory=dict)
    """Faults injected, by kind."""
    file_downloads: int = 0
    """Result-file requests that were served (GET or HEAD, any range)."""
    file_requests_with_api_token: int = 0
    """Result-file requests that carried an ``api_token`` header (a client leaking its token)."""


class Stats:
    """The live counters. Updated from the event loop thread."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.submits: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.status_polls: Counter[str] = Counter()
        self.status_polls_total = 0
        self.faults: Counter[str] = Counter()
        self.webhooks = WebhookStats()
        self.file_downloads = 0
        self.file_requests_with_api_token = 0

    def snapshot(self, jobs: dict[str, int]) -> StatsSnapshot:
        """Copy the counters (``jobs`` is computed by the caller from the job store)."""
        return StatsSnapshot(
            requests=dict(self.requests),
            submits=dict(self.submits),
            rate_limited=dict(self.rate_limited),
            status_polls=dict(self.status_polls),
            status_polls_total=self.status_polls_total,
            jobs=jobs,
            webhooks=self.webhooks.model_copy(),
            faults=dict(self.faults),
            file_downloads=self.file_downloads,
            file_requests_with_api_token=self.file_requests_with_api_token,
        )

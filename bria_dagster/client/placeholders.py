"""Bria's v1 placeholder results: how a wait for them goes.

``POST /v1/ads/generate`` always, and the v1 shot calls Bria documents with ``sync: false``
(lifestyle shots by text or image, vehicle shots by text) when sent with ``sync: false``, answer
at once with the final result URLs (the catalog entries say which:
:func:`bria_dagster.client.catalog.registry.returns_placeholders`; the URLs are read by
:func:`bria_dagster.client.types.responses.placeholder_urls`). Each URL answers 404 (or an
empty body) until its file is rendered; a result refused by moderation stays a zero-byte file
(bria-api.md §5.2, §5.4; Bria's OpenAPI ``ad-generation.yml`` ``content_moderation``).

A wait probes each URL with ``GET`` and ``Range: bytes=0-0`` (as Bria's earlier SDK did), on the
same schedule as a status poll of the endpoint's family (:class:`PollSchedule`), each probe
taking a slot of the status budget. A probe answered 200/206 with content means the file is
there; 200 with no content or 416 (a range of an empty file) means it was refused by moderation;
404 and 403 mean not yet; 429, 5xx and network failures are hiccups. Nothing is ever re-POSTed.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bria_dagster.client.errors import JobFailedError, WaitTimeoutError
from bria_dagster.client.polling import PollSchedule
from bria_dagster.client.settings import ClientSettings

PROBE_HEADERS = {"Range": "bytes=0-0"}
"""Ask for one byte: enough to tell a rendered file from a missing or empty one."""

MODERATED_CODE = 422
"""The error code a zero-byte (moderated) placeholder is reported with."""


class PlaceholderState:
    """What one probe of a placeholder URL said."""

    READY = "ready"
    EMPTY = "empty"
    NOT_YET = "not_yet"
    HICCUP = "hiccup"


def probe_state(response: httpx.Response) -> str:
    """Classify a probe's answer (see the module docstring)."""
    code = response.status_code
    if code in (200, 206):
        return PlaceholderState.READY if response.content else PlaceholderState.EMPTY
    if code == 416:
        return PlaceholderState.EMPTY
    if code in (403, 404):
        return PlaceholderState.NOT_YET
    if code == 429 or code >= 500:
        return PlaceholderState.HICCUP
    return PlaceholderState.NOT_YET


def retry_after_of(response: httpx.Response) -> float:
    """A probe answer's ``Retry-After`` in seconds (0 when absent or not a number)."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


@dataclass
class PlaceholderWatch:
    """One placeholder URL being waited for (times are ``time.monotonic()`` values)."""

    url: str
    request: str
    """Names the call for messages: ``POST /v1/ads/generate (ad 123)`` or a ledger request id."""
    schedule: PollSchedule
    started: float
    deadline: float
    due: float
    probes: int = 0

    @classmethod
    def start(
        cls,
        url: str,
        *,
        request: str,
        endpoint: str,
        settings: ClientSettings,
        timeout: float | None,
        now: float,
        first_delay_s: float | None = None,
    ) -> PlaceholderWatch:
        """Watch ``url``: the first probe after the family's expected latency (the status
        schedule's first delay), or after ``first_delay_s`` (0 for a resumed wait)."""
        schedule = PollSchedule.for_endpoint(endpoint, settings)
        first = schedule.next_delay(0) if first_delay_s is None else first_delay_s
        deadline = now + (settings.wait_timeout_s if timeout is None else timeout)
        return cls(url, request, schedule, now, deadline, min(deadline, now + max(0.0, first)))

    def observe(self, state: str, now: float, retry_after: float = 0.0) -> bool:
        """Take a probe's state: True when the file is there; raise :class:`JobFailedError`
        (``is_moderation``) for a zero-byte file; else schedule the next probe."""
        self.probes += 1
        if state == PlaceholderState.READY:
            return True
        if state == PlaceholderState.EMPTY:
            raise JobFailedError(
                self.request,
                "ERROR",
                code=MODERATED_CODE,
                message="refused by content moderation: the result is a zero-byte file",
                details=self.url,
            )
        gap = max(retry_after, self.schedule.next_delay(self.probes))
        self.due = min(self.deadline, now + gap)
        return False

    def expired(self, now: float) -> bool:
        """True once the deadline has passed."""
        return now >= self.deadline

    def timeout_error(self, now: float) -> WaitTimeoutError:
        """The error of a placeholder that never filled: names the URL and the request."""
        return WaitTimeoutError(self.request, now - self.started, url=self.url)

"""Fault injection: what can go wrong between a client and Bria, on demand and by rate.

Kinds:

- ``server_error``: a 5xx answer in Bria's envelope, before the request is processed (no job).
- ``drop_before``: the connection is closed before the request is processed (no job made).
- ``drop_after``: the request is processed (a job is made and billed), then the connection is
  closed instead of answering: the ambiguous case a client must not blindly retry.
- ``slow``: the answer is held back ``delay_s`` seconds after processing.
- ``job_error`` / ``job_unknown``: the submit succeeds but the job ends ERROR / UNKNOWN.
- ``respond``: answer ``status_code`` (any, e.g. 429 or 400) with ``headers`` and a ``body``
  (JSON) or ``text`` instead of processing (no job): a 429 with a given ``Retry-After``, a
  proxy's HTML error page, a 4xx envelope.
- ``chunked``: the answer is sent without ``Content-Length`` (chunked transfer encoding), as a
  CDN streaming a result file may.
- ``training_failed``: a tailored model's training (``POST .../start_training``) ends
  ``Failed`` instead of ``Completed``.

A rule fires with probability ``rate`` (seeded RNG) on the requests it scopes (``on``:
``submits``, ``status``, ``any`` API request, or ``files``: result-file downloads; ``paths``:
glob patterns on the endpoint's path template, e.g. ``/v1/tailored-gen/datasets/*/images`` or
``/files/*``), after letting the first ``after`` matching requests through, at most ``count``
times when a count is given. Rules change at runtime (``POST /_emulator/config``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import Scope

FaultKind = Literal[
    "server_error",
    "drop_before",
    "drop_after",
    "slow",
    "job_error",
    "job_unknown",
    "respond",
    "chunked",
    "training_failed",
]
FaultScope = Literal["any", "submits", "status", "files"]
RequestKind = Literal["submit", "status", "other", "file"]

TRANSPORT_KINDS = ("server_error", "drop_before", "drop_after", "respond")
JOB_KINDS = ("job_error", "job_unknown")
TRAINING_KINDS = ("training_failed",)
RAW_SEND_KEY = "bria_emulator.raw_send"
"""Scope key under which the app keeps the server's own ``send`` (needed to drop a connection)."""


class FaultRule(BaseModel):
    """One fault to inject: what, how often, on which requests, how many times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0, description="probability per matching request")
    count: int | None = Field(default=None, ge=1, description="fire at most this many times")
    on: FaultScope = "any"
    paths: tuple[str, ...] = Field(default=(), description="glob patterns on the endpoint path")
    after: int = Field(default=0, ge=0, description="let this many matching requests through first")
    status_code: int = Field(
        default=503, ge=100, le=599, description="for server_error (5xx) and respond (any)"
    )
    delay_s: float = Field(default=2.0, ge=0.0, description="for slow")
    headers: dict[str, str] = Field(default_factory=dict, description="for respond")
    body: Any = Field(default=None, description="for respond: a JSON answer")
    text: str | None = Field(default=None, description="for respond: a text answer")

    @model_validator(mode="after")
    def _consistent(self) -> FaultRule:
        if self.kind in JOB_KINDS and self.on == "status":
            raise ValueError(f"on: {self.kind} applies to submits, not to status polls")
        if self.kind == "server_error" and not 500 <= self.status_code <= 599:
            raise ValueError("status_code: server_error needs a 5xx (use kind respond)")
        if self.body is not None and self.text is not None:
            raise ValueError("text: give a JSON body or a text, not both")
        return self

    def matches(self, endpoint: str, kind: RequestKind) -> bool:
        """Whether this rule scopes a request of ``kind`` to ``endpoint``."""
        if (self.on == "files") != (kind == "file"):
            return False
        if self.kind in JOB_KINDS and kind != "submit":
            return False
        if self.on == "submits" and kind != "submit":
            return False
        if self.on == "status" and kind != "status":
            return False
        return not self.paths or any(fnmatch.fnmatchcase(endpoint, p) for p in self.paths)


@dataclass
class TransportPlan:
    """What the guard does to one request: at most one transport fault, and a delay."""

    fault: FaultRule | None = None
    delay_s: float = 0.0
    chunked: bool = False


class FaultInjector:
    """Decides, per request, which rules fire. Used from the event loop thread only."""

    def __init__(self, rules: Iterable[FaultRule], rng: random.Random) -> None:
        self._rng = rng
        self._rules: list[list[Any]] = []
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[FaultRule]) -> None:
        """Replace the rules (their counts start afresh)."""
        self._rules = [[rule, rule.count, rule.after] for rule in rules]

    @property
    def rules(self) -> list[FaultRule]:
        """The active rules (count-limited ones disappear once used up)."""
        return [entry[0] for entry in self._rules]

    def _fire(self, kinds: tuple[str, ...], endpoint: str, kind: RequestKind) -> FaultRule | None:
        for entry in self._rules:
            rule: FaultRule = entry[0]
            if rule.kind not in kinds or not rule.matches(endpoint, kind):
                continue
            if entry[2]:
                entry[2] -= 1
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            if entry[1] is not None:
                entry[1] -= 1
                if entry[1] == 0:
                    self._rules.remove(entry)
            return rule
        return None

    def transport(self, endpoint: str, kind: RequestKind) -> TransportPlan:
        """The transport faults (5xx, drops, delay) for one request."""
        if not self._rules:
            return TransportPlan()
        fault = self._fire(TRANSPORT_KINDS, endpoint, kind)
        slow = self._fire(("slow",), endpoint, kind)
        chunked = self._fire(("chunked",), endpoint, kind) is not None
        return TransportPlan(fault, slow.delay_s if slow else 0.0, chunked)

    def job(self, endpoint: str) -> FaultRule | None:
        """The job fault (``job_error`` / ``job_unknown``) for a job being created, if any."""
        return self._fire(JOB_KINDS, endpoint, "submit") if self._rules else None

    def training(self, endpoint: str) -> FaultRule | None:
        """The ``training_failed`` fault for a training being started, if any."""
        return self._fire(TRAINING_KINDS, endpoint, "other") if self._rules else None


async def drop_connection(scope: Scope) -> None:
    """Close the client's connection without sending a byte.

    Uses the transport of the uvicorn request cycle behind the server's ``send`` (kept in the
    scope by the app). Without uvicorn (e.g. another ASGI server) it raises, which makes the
    server answer a bare 500 instead.
    """
    cycle = getattr(scope.get(RAW_SEND_KEY), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("injected drop (this ASGI server cannot drop connections)")
    transport.close()
    # Let uvicorn see the connection lost, so it neither answers nor logs an error.
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)

"""Fault injection: what can go wrong between a client and Bria, on demand and by rate.

Kinds:

- ``server_error``: a 5xx answer in Bria's envelope, before the request is processed (no job).
- ``drop_before``: the connection is closed before the request is processed (no job made).
- ``drop_after``: the request is processed (a job is made and billed), then the connection is
  closed instead of answering: the ambiguous case a client must not blindly retry.
- ``slow``: the answer is held back ``delay_s`` seconds after processing.
- ``job_error`` / ``job_unknown``: the submit succeeds but the job ends ERROR / UNKNOWN.

A rule fires with probability ``rate`` (seeded RNG) on the requests it scopes (``on``:
``submits``, ``status`` or ``any``; ``paths``: glob patterns on the endpoint path), at most
``count`` times when a count is given. Rules change at runtime (``POST /_emulator/config``).
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

FaultKind = Literal["server_error", "drop_before", "drop_after", "slow", "job_error", "job_unknown"]
FaultScope = Literal["any", "submits", "status"]
RequestKind = Literal["submit", "status", "other"]

TRANSPORT_KINDS = ("server_error", "drop_before", "drop_after")
JOB_KINDS = ("job_error", "job_unknown")
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
    status_code: int = Field(default=503, ge=500, le=599, description="for server_error")
    delay_s: float = Field(default=2.0, ge=0.0, description="for slow")

    @model_validator(mode="after")
    def _job_faults_need_submits(self) -> FaultRule:
        if self.kind in JOB_KINDS and self.on == "status":
            raise ValueError(f"on: {self.kind} applies to submits, not to status polls")
        return self

    def matches(self, endpoint: str, kind: RequestKind) -> bool:
        """Whether this rule scopes a request of ``kind`` to ``endpoint``."""
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


class FaultInjector:
    """Decides, per request, which rules fire. Used from the event loop thread only."""

    def __init__(self, rules: Iterable[FaultRule], rng: random.Random) -> None:
        self._rng = rng
        self._rules: list[list[Any]] = []
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[FaultRule]) -> None:
        """Replace the rules (their counts start afresh)."""
        self._rules = [[rule, rule.count] for rule in rules]

    @property
    def rules(self) -> list[FaultRule]:
        """The active rules (count-limited ones disappear once used up)."""
        return [entry[0] for entry in self._rules]

    def _fire(self, kinds: tuple[str, ...], endpoint: str, kind: RequestKind) -> FaultRule | None:
        for entry in self._rules:
            rule: FaultRule = entry[0]
            if rule.kind not in kinds or not rule.matches(endpoint, kind):
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
        return TransportPlan(fault, slow.delay_s if slow else 0.0)

    def job(self, endpoint: str) -> FaultRule | None:
        """The job fault (``job_error`` / ``job_unknown``) for a job being created, if any."""
        return self._fire(JOB_KINDS, endpoint, "submit") if self._rules else None


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

"""Write each operation once, run it on the sync or the async client.

An operation is a *plan*: a generator that yields effects (an API call, a wait, a pause) and
receives their results, then returns its value. :func:`run_plan` performs the effects with a
synchronous client, :func:`run_plan_async` with an asynchronous one. Plans do no I/O of their
own, so the same code serves both clients and tests can drive it step by step.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import httpx

from bria_dagster.client.errors import BriaAPIError, BriaConnectionError

T = TypeVar("T")


class Effect:
    """Something a plan asks the client to do."""

    def perform(self, client: Any) -> Any:
        """Do it with ``client``; with an async client this returns an awaitable."""
        raise NotImplementedError

    async def perform_async(self, client: Any) -> Any:
        """Do it with an async client."""
        result = self.perform(client)
        return await result if inspect.isawaitable(result) else result


Plan: TypeAlias = Generator[Effect, Any, T]
"""A generator of effects that returns the operation's value."""


@dataclass(frozen=True)
class Run(Effect):
    """``client.run``: submit and return the finished job's result."""

    endpoint: str
    payload: Mapping[str, Any] = field(repr=False)

    def perform(self, client: Any) -> Any:
        return client.run(self.endpoint, self.payload)


@dataclass(frozen=True)
class Submit(Effect):
    """``client.submit``: start a job and return its Submission."""

    endpoint: str
    payload: Mapping[str, Any] = field(repr=False)
    webhook_url: str | None = None

    def perform(self, client: Any) -> Any:
        return client.submit(self.endpoint, self.payload, webhook_url=self.webhook_url)


@dataclass(frozen=True)
class Wait(Effect):
    """``client.wait``: wait for a submitted job's result."""

    submission: Any

    def perform(self, client: Any) -> Any:
        return client.wait(self.submission)


@dataclass(frozen=True)
class ApiCall(Effect):
    """``client.request``: a synchronous v1 or CRUD call; returns the parsed JSON body."""

    method: str
    path: str
    json: Any = field(default=None, repr=False)
    params: Mapping[str, Any] | None = None

    def perform(self, client: Any) -> Any:
        return client.request(self.method, self.path, json=self.json, params=self.params)


@dataclass(frozen=True)
class AwaitPlaceholders(Effect):
    """``client.wait_placeholders``: wait until a v1 answer's placeholder URLs have filled."""

    urls: tuple[str, ...]
    endpoint: str
    request: str

    def perform(self, client: Any) -> Any:
        return client.wait_placeholders(self.urls, endpoint=self.endpoint, request=self.request)


@dataclass(frozen=True)
class Sleep(Effect):
    """Pause between polls."""

    seconds: float

    def perform(self, client: Any) -> None:
        time.sleep(self.seconds)

    async def perform_async(self, client: Any) -> None:
        await asyncio.sleep(self.seconds)


_UPLOAD_TIMEOUT = httpx.Timeout(30.0, write=600.0)


@dataclass(frozen=True)
class PresignedUpload(Effect):
    """POST a file to a presigned storage URL (form fields first, then the file).

    Goes out on its own HTTP client, so the API token is never sent to the storage host. A
    path is streamed from disk rather than read into memory.
    """

    url: str
    fields: Mapping[str, str]
    filename: str
    source: bytes | Path = field(repr=False)
    media_type: str

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise BriaAPIError(
                "presigned upload refused",
                status_code=response.status_code,
                details=response.text[:500],
                endpoint="video upload",
            )

    def _failed(self, exc: httpx.HTTPError) -> BriaConnectionError:
        return BriaConnectionError(
            f"presigned upload failed: {type(exc).__name__}", request_sent=True
        )

    def _files(self, stack: contextlib.ExitStack) -> dict[str, tuple[str, Any, str]]:
        body: Any = self.source
        if isinstance(body, Path):
            body = stack.enter_context(body.open("rb"))
        return {"file": (self.filename, body, self.media_type)}

    def perform(self, client: Any) -> None:
        with contextlib.ExitStack() as stack, httpx.Client(timeout=_UPLOAD_TIMEOUT) as http:
            try:
                response = http.post(self.url, data=dict(self.fields), files=self._files(stack))
            except httpx.HTTPError as exc:
                raise self._failed(exc) from None
        self._check(response)

    async def perform_async(self, client: Any) -> None:
        with contextlib.ExitStack() as stack:
            async with httpx.AsyncClient(timeout=_UPLOAD_TIMEOUT) as http:
                try:
                    response = await http.post(
                        self.url, data=dict(self.fields), files=self._files(stack)
                    )
                except httpx.HTTPError as exc:
                    raise self._failed(exc) from None
        self._check(response)


@dataclass(frozen=True)
class Done:
    """A plan that has finished with ``value``."""

    value: Any


@dataclass(frozen=True)
class Started:
    """A plan advanced to its first effect (``step``), or already done."""

    plan: Plan[Any]
    step: Effect | Done


def _resume(plan: Plan[Any], outcome: Any = None, error: BaseException | None = None) -> Any:
    try:
        return plan.throw(error) if error is not None else plan.send(outcome)
    except StopIteration as stop:
        return Done(stop.value)


def start(plan: Plan[T]) -> Started:
    """Run the plan up to its first effect: its input checks happen now, before any I/O."""
    try:
        return Started(plan, next(plan))
    except StopIteration as stop:
        return Started(plan, Done(stop.value))


def run_plan(client: Any, started: Started) -> Any:
    """Perform a started plan's effects with a synchronous client; return its value."""
    step = started.step
    while not isinstance(step, Done):
        try:
            outcome = step.perform(client)
        except Exception as exc:  # handed to the plan, which may recover (e.g. a 404)
            step = _resume(started.plan, error=exc)
        else:
            step = _resume(started.plan, outcome)
    return step.value


async def run_plan_async(client: Any, started: Started) -> Any:
    """Perform a started plan's effects with an asynchronous client; return its value."""
    step = started.step
    while not isinstance(step, Done):
        try:
            outcome = await step.perform_async(client)
        except Exception as exc:
            step = _resume(started.plan, error=exc)
        else:
            step = _resume(started.plan, outcome)
    return step.value

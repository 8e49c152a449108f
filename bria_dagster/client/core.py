"""The sans-IO core shared by :class:`BriaClient` and :class:`AsyncBriaClient`.

It builds requests, checks inputs, reads answers, decides about retries and keeps the usage
counters and the rate limiter. The clients only move bytes and sleep, each in its own way.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from bria_dagster._version import __version__
from bria_dagster.client.catalog.registry import CATALOG
from bria_dagster.client.endpoints import normalize_endpoint
from bria_dagster.client.errors import (
    BriaAPIError,
    BriaConnectionError,
    BriaInputError,
    RateLimitError,
    ServerError,
)
from bria_dagster.client.http_errors import (
    error_from_response,
    is_retryable,
    json_or_none,
    scrub_tree,
    transport_error,
)
from bria_dagster.client.placeholders import PlaceholderWatch
from bria_dagster.client.poll_plan import PollPlan
from bria_dagster.client.polling import JobWatch, check_request_id
from bria_dagster.client.ratelimit import STATUS_BUDGET, RateLimiter, send_margin_s
from bria_dagster.client.ratelimit_stores import open_store
from bria_dagster.client.results import JobStatus, Submission, parse_status
from bria_dagster.client.settings import ClientSettings
from bria_dagster.client.usage import UsageCounters

log = logging.getLogger("bria_dagster.client")

USER_AGENT = f"bria-dagster/{__version__} (python; httpx)"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_IDEMPOTENT = ("GET", "HEAD", "OPTIONS")
PLACEHOLDER_BUDGET = "placeholder-probes"
"""The usage key of v1 placeholder probes (they draw on the status budget)."""


@dataclass(frozen=True)
class Call:
    """One engine request, ready to be sent (and sent again where retrying is safe)."""

    method: str
    path: str
    budget: str
    """Rate budget it spends from (see :func:`budget_of`), or the shared status budget."""
    content: bytes | None = None
    """The JSON body, serialised once so that every attempt sends the same bytes."""
    params: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    read_timeout: float | None = None

    @property
    def idempotent(self) -> bool:
        """True for calls that may run twice without effect (GET)."""
        return self.method in _IDEMPOTENT

    @property
    def is_status_poll(self) -> bool:
        """True for a Status Service call."""
        return self.budget == STATUS_BUDGET


class SendGuard(Protocol):
    """Told when a POST is about to leave and when an attempt provably did not (a caller's
    ledger keeps "about to be sent" apart from "waiting for a rate-limit slot")."""

    def sending(self) -> None:
        """The rate-limit slot is taken and the request leaves next; raise to keep it back.

        :class:`AsyncBriaClient` calls it in a worker thread (it may wait for a disk), or
        awaits the guard's ``sending_async()`` coroutine instead when it has one."""

    def unsent(self, error: BaseException) -> None:
        """The attempt did not reach Bria (429, connection never opened, no slot)."""


def not_sent(error: BaseException) -> bool:
    """True when a failed call provably did not reach Bria (or was refused unprocessed: 429)."""
    if isinstance(error, RateLimitError):
        return True
    return isinstance(error, BriaConnectionError) and not error.request_sent


def budget_of(path: str) -> str:
    """The rate budget of a path: segments holding digits (ids, versions) become ``{id}``, so
    ``/v1/tailored-gen/projects/7`` and ``.../projects/8`` share one (conservative) budget."""
    version, *rest = path.strip("/").split("/")
    parts = ["{id}" if any(c.isdigit() for c in part) else part for part in rest]
    return "/" + "/".join([version, *parts])


def endpoint_path(endpoint: object, field: str = "endpoint") -> str:
    """The canonical path of an endpoint name; :class:`BriaInputError` when it is not one."""
    if not isinstance(endpoint, str):
        raise BriaInputError(field, f"must be a string such as 'image/generate', got {endpoint!r}")
    try:
        return normalize_endpoint(endpoint)
    except ValueError as exc:
        raise BriaInputError(field, str(exc).removeprefix("endpoint: ")) from None


def check_http_url(value: object, field: str) -> str:
    """An absolute http(s) URL; :class:`BriaInputError` naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise BriaInputError(field, "must be an http(s) URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BriaInputError(field, f"must be an absolute http(s) URL, got {value[:80]!r}")
    return value


def json_content(body: object, field: str = "payload") -> bytes:
    """Serialise a JSON body, naming the top-level field that cannot be serialised."""
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        for key, value in body.items() if isinstance(body, Mapping) else ():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise BriaInputError(f"{field}.{key}", f"is not JSON-serialisable: {exc}") from None
        raise BriaInputError(field, "is not JSON-serialisable") from None


def prepare_payload(
    payload: object, *, sync: bool | None, field: str = "payload"
) -> dict[str, Any]:
    """Check a request body, drop ``None`` values (as Bria's SDK does) and set ``sync``."""
    if not isinstance(payload, Mapping):
        raise BriaInputError(field, "must be a mapping of field names to values")
    body: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            raise BriaInputError(field, f"field names must be strings, got {key!r}")
        if value is not None:
            body[key] = value
    if sync is not None:
        if "sync" in body:
            raise BriaInputError(
                "sync", "is chosen by the client: submit() sends false, run() true where allowed"
            )
        body["sync"] = sync
    return body


def _rewind(files: Mapping[str, Any]) -> None:
    for value in files.values():
        stream = value[1] if isinstance(value, tuple) and len(value) > 1 else value
        if hasattr(stream, "seek"):
            stream.seek(0)


class ClientCore:
    """State and rules shared by the sync and async clients. Does no network I/O."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        token = settings.require_token()
        self.usage = UsageCounters()
        self.limiter = RateLimiter(
            open_store(settings.rate_limit_backend),
            token=token,
            limit=settings.effective_requests_per_window,
            window_s=settings.rate_limit_window_s,
        )
        window_s = settings.rate_limit_window_s
        self.poll_plan = PollPlan(
            limit=settings.effective_requests_per_window,
            window_s=window_s + send_margin_s(window_s),  # the limiter's window
        )
        self._backoff = wait_random_exponential(
            multiplier=settings.retry_base_delay_s, max=settings.retry_max_delay_s
        )

    def __repr__(self) -> str:
        return f"ClientCore(base_url={self.settings.base_url!r})"

    # --- connections -------------------------------------------------------------------------

    def engine_client_options(self) -> dict[str, Any]:
        """httpx client options for the engine: base URL, auth header, timeouts, no redirects."""
        return {
            "base_url": self.settings.base_url,
            "headers": {"api_token": self.settings.require_token(), "User-Agent": USER_AGENT},
            "timeout": self.settings.http_timeout(),
            "follow_redirects": False,
        }

    def download_client_options(self) -> dict[str, Any]:
        """httpx client options for result hosts: no token at all, redirects followed."""
        return {
            "headers": {"User-Agent": USER_AGENT},
            "timeout": self.settings.http_timeout(read=self.settings.download_read_timeout_s),
            "follow_redirects": True,
        }

    def scrub(self, text: str) -> str:
        """``text`` with the API token masked (for text from answers or transport errors)."""
        token = self.settings.require_token()
        return text.replace(token, "***")

    # --- calls -------------------------------------------------------------------------------

    def submit_call(self, endpoint: str, payload: object, webhook_url: str | None) -> Call:
        """The POST that starts an asynchronous job (``sync: false``)."""
        path = endpoint_path(endpoint)
        body = prepare_payload(payload, sync=False)
        if webhook_url is not None:
            body["webhook_url"] = check_http_url(webhook_url, "webhook_url")
        return Call("POST", path, budget_of(path), content=json_content(body))

    def sync_call(self, endpoint: str, payload: object) -> Call | None:
        """The ``sync: true`` POST of ``endpoint``, or None unless its catalog entry allows
        ``sync: true`` (an asynchronous-only endpoint, a v1 call, a path the catalog lacks)."""
        path = endpoint_path(endpoint)
        body = prepare_payload(payload, sync=True)
        spec = CATALOG.get(path)
        if spec is None or spec.sync != "allowed":
            return None
        read = self.settings.sync_read_timeout_s
        return Call("POST", path, budget_of(path), content=json_content(body), read_timeout=read)

    def status_call(self, request_id: object) -> Call:
        """The Status Service GET for one job."""
        rid = check_request_id(request_id)
        return Call("GET", f"/v2/status/{rid}", STATUS_BUDGET)

    def raw_call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Call:
        """Any engine call (v1 CRUD, multipart uploads, ...), with the usual rules."""
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in _METHODS:
            raise BriaInputError("method", f"must be one of {', '.join(_METHODS)}")
        canonical = endpoint_path(path, "path")
        content = None
        if json is not None:
            if files is not None or data is not None:
                raise BriaInputError("json", "cannot be combined with files or data")
            body = (
                prepare_payload(json, sync=None, field="json")
                if isinstance(json, Mapping)
                else json
            )
            content = json_content(body, "json")
        read = None if verb in _IDEMPOTENT else self.settings.sync_read_timeout_s
        return Call(verb, canonical, budget_of(canonical), content, params, files, data, read)

    def request_options(self, call: Call) -> dict[str, Any]:
        """Arguments of ``httpx.Client.build_request`` for one attempt of ``call``."""
        options: dict[str, Any] = {"method": call.method, "url": call.path}
        if call.content is not None:
            options["content"] = call.content
            options["headers"] = {"Content-Type": "application/json"}
        if call.params is not None:
            options["params"] = call.params
        if call.files is not None:
            _rewind(call.files)
            options["files"] = call.files
        if call.data is not None:
            options["data"] = call.data
        if call.read_timeout is not None:
            options["timeout"] = self.settings.http_timeout(read=call.read_timeout)
        return options

    def watch(
        self, job: Submission | str, *, index: int, endpoint: str | None, timeout: float | None
    ) -> JobWatch:
        """Start following one job (see :class:`JobWatch`)."""
        if endpoint is not None:
            endpoint = endpoint_path(endpoint)
        return JobWatch.start(
            job,
            index=index,
            endpoint=endpoint,
            settings=self.settings,
            timeout=timeout,
            now=time.monotonic(),
            wall_now=time.time(),
        )

    def placeholder_watches(
        self,
        urls: Sequence[str],
        endpoint: str,
        request: str | None,
        timeout: float | None,
        resume: bool,
    ) -> list[PlaceholderWatch]:
        """Start following v1 placeholder URLs (see :mod:`bria_dagster.client.placeholders`)."""
        if timeout is not None and not timeout > 0:
            raise BriaInputError("timeout", "must be a positive number of seconds")
        path = endpoint_path(endpoint)
        name = request or f"POST {path}"
        now = time.monotonic()
        return [
            PlaceholderWatch.start(
                check_http_url(url, f"urls[{index}]"),
                request=name,
                endpoint=path,
                settings=self.settings,
                timeout=timeout,
                now=now,
                first_delay_s=0.0 if resume else None,
            )
            for index, url in enumerate(urls)
        ]

    def placeholder_probe_sent(self) -> None:
        """Count one probe of a placeholder URL (a status poll: it spends the status budget)."""
        self.usage.call(PLACEHOLDER_BUDGET, status_poll=True)

    # --- answers -----------------------------------------------------------------------------

    def sent(self, call: Call) -> float:
        """Count a request that is about to leave; return its send time (``time.time()``)."""
        self.usage.call(call.budget, status_poll=call.is_status_poll)
        return time.time()

    def limiter_waited(self, seconds: float) -> None:
        """Count time spent waiting for a rate-limit slot."""
        self.usage.waited("limiter_wait_s", seconds)

    def check(self, call: Call, response: httpx.Response, sent_at: float, attempt: int) -> None:
        """Log an answer and raise the typed error when it is an HTTP error.

        A 429 also slows every caller of the same budget (see :class:`RateLimiter`).
        """
        body = json_or_none(response)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        log.debug(
            "%s %s -> %s request_id=%s attempt=%d",
            call.method,
            call.path,
            response.status_code,
            request_id,
            attempt,
        )
        if response.is_redirect:
            where = urlsplit(response.headers.get("location", ""))
            raise BriaAPIError(
                f"unexpected redirect to {where.scheme}://{where.netloc}{where.path} "
                "(the token is not sent to other URLs; check base_url)",
                status_code=response.status_code,
                endpoint=call.path,
            )
        if response.status_code < 400:
            return
        error = error_from_response(response, endpoint=call.path, scrub=self.scrub)
        if isinstance(error, RateLimitError):
            self.usage.count("rate_limited")
            pause = error.retry_after
            if pause is not None:
                pause = min(pause, self.settings.retry_max_delay_s)
            self.limiter.note_rate_limited(call.budget, pause, sent_at)
        raise error

    def failed(self, call: Call, exc: httpx.TransportError, attempt: int) -> BriaConnectionError:
        """Log a transport failure and return the typed error to raise."""
        log.debug("%s %s -> %s attempt=%d", call.method, call.path, type(exc).__name__, attempt)
        return transport_error(
            exc, endpoint=call.path, idempotent=call.idempotent, scrub=self.scrub
        )

    def submission(self, call: Call, response: httpx.Response) -> Submission:
        """The :class:`Submission` of a submit's answer (202, or 200 with a ``request_id``)."""
        body = self._json_object(call, response)
        request_id = body.get("request_id")
        if not request_id:
            raise ServerError(
                "the submit answer carries no request_id",
                status_code=response.status_code,
                endpoint=call.path,
                body=scrub_tree(body, self.scrub),
            )
        return Submission(
            request_id=str(request_id),
            status_url=body.get("status_url"),
            endpoint=call.path,
            warning=body.get("warning"),
            submitted_at=time.time(),
        )

    def job_status(self, call: Call, response: httpx.Response) -> JobStatus:
        """The :class:`JobStatus` of a status (or ``sync: true``) answer."""
        return parse_status(self._json_object(call, response))

    def _json_object(self, call: Call, response: httpx.Response) -> dict[str, Any]:
        body = json_or_none(response)
        if not isinstance(body, dict):
            raise ServerError(
                "the answer is not a JSON object",
                status_code=response.status_code,
                endpoint=call.path,
                details=self.scrub(response.text[:200]) or None,
            )
        return body

    @staticmethod
    def raw_body(response: httpx.Response) -> Any:
        """A raw call's answer: parsed JSON, text when it is not JSON, None when empty."""
        if not response.content:
            return None
        body = json_or_none(response)
        return response.text if body is None else body

    # --- retries -----------------------------------------------------------------------------

    def retry_options(self, call: Call) -> dict[str, Any]:
        """tenacity options for ``call``: which failures are retried and how long to wait."""
        return self.retry_options_for(partial(is_retryable, idempotent=call.idempotent))

    def retry_options_for(self, predicate: Callable[[BaseException], bool]) -> dict[str, Any]:
        """tenacity options with the client's stop, wait and logging, retrying on ``predicate``."""
        return {
            "stop": stop_after_attempt(self.settings.max_attempts),
            "wait": self.retry_delay,
            "retry": retry_if_exception(predicate),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def retry_delay(self, state: RetryCallState) -> float:
        """The server's ``Retry-After`` when given, else exponential backoff with full jitter;
        both capped by ``retry_max_delay_s``."""
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.settings.retry_max_delay_s))
        return float(self._backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        self.usage.count("retries")
        self.usage.waited("retry_wait_s", delay)
        log.debug(
            "retrying in %.3f s after attempt %d: %s",
            delay,
            state.attempt_number,
            type(error).__name__,
        )

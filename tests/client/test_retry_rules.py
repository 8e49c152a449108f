"""The retry rules, pinned with httpx.MockTransport: what is retried, how long it waits.

A POST is retried only when Bria provably did not process it (429, connection not made); a GET
retries on 429, 5xx and network failures. Backoff is full jitter; Retry-After wins, capped.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tenacity import RetryCallState

from bria_dagster.client import (
    AmbiguousSubmitError,
    AsyncBriaClient,
    BriaClient,
    BriaConnectionError,
    RateLimitError,
    ServerError,
)
from bria_dagster.client.http_errors import parse_retry_after

from .conftest import FAST

Handler = Callable[[httpx.Request], httpx.Response]
ACCEPTED = {"request_id": "r-1", "status_url": "https://engine/v2/status/r-1"}
DONE = {"request_id": "r-1", "status": "COMPLETED", "result": {"image_url": "https://cdn/x.png"}}


def scripted(*steps: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler that plays ``steps`` in order (an exception is raised as the transport's)."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        step = steps[min(len(calls), len(steps)) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    return handler, calls


def make_client(handler: Handler, token: str, **overrides: Any) -> BriaClient:
    settings: dict[str, Any] = {**FAST, **overrides}
    return BriaClient(api_token=token, transport=httpx.MockTransport(handler), **settings)


def too_many(retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"code": 429, "message": "Request limit exceeded"}, "request_id": "x"}
    return httpx.Response(429, json=body, headers=headers)


def test_post_is_retried_after_429_honouring_retry_after_seconds(token: str) -> None:
    handler, calls = scripted(too_many("0.3"), httpx.Response(202, json=ACCEPTED))
    with make_client(handler, token) as client:
        start = time.monotonic()
        submission = client.submit("image/generate", {"prompt": "x"})
        elapsed = time.monotonic() - start
        usage = client.usage()
    assert submission.request_id == "r-1"
    assert len(calls) == 2
    assert 0.3 <= elapsed < 1.5
    assert (usage.rate_limited, usage.retries) == (1, 1)
    assert usage.retry_wait_s == pytest.approx(0.3)


def test_retry_after_as_http_date_is_honoured(token: str) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    handler, calls = scripted(too_many(when), httpx.Response(202, json=ACCEPTED))
    with make_client(handler, token, retry_max_delay_s=5) as client:
        start = time.monotonic()
        client.submit("image/generate", {"prompt": "x"})
        elapsed = time.monotonic() - start
    assert len(calls) == 2
    assert 0.9 <= elapsed < 3.5  # the date has whole-second precision


def test_retry_after_is_capped_by_retry_max_delay(token: str) -> None:
    handler, calls = scripted(too_many("3600"), httpx.Response(202, json=ACCEPTED))
    with make_client(handler, token, retry_max_delay_s=0.05) as client:
        start = time.monotonic()
        client.submit("image/generate", {"prompt": "x"})
        assert time.monotonic() - start < 1.0
        assert client.usage().retry_wait_s == pytest.approx(0.05)
    assert len(calls) == 2


def test_429_after_all_attempts_raises_rate_limit_error_with_hint(token: str) -> None:
    handler, calls = scripted(too_many("0.01"))
    with (
        make_client(handler, token, max_attempts=3) as client,
        pytest.raises(RateLimitError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    assert len(calls) == 3
    assert caught.value.retry_after == pytest.approx(0.01)
    assert caught.value.status_code == 429


def test_post_is_retried_after_connect_error(token: str) -> None:
    handler, calls = scripted(httpx.ConnectError("refused"), httpx.Response(202, json=ACCEPTED))
    with make_client(handler, token) as client:
        assert client.submit("image/generate", {"prompt": "x"}).request_id == "r-1"
    assert len(calls) == 2


def test_connect_failures_exhausted_say_the_request_was_not_sent(token: str) -> None:
    handler, calls = scripted(httpx.ConnectTimeout("slow"))
    with (
        make_client(handler, token, max_attempts=2) as client,
        pytest.raises(BriaConnectionError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    assert len(calls) == 2
    assert caught.value.request_sent is False
    assert not isinstance(caught.value, AmbiguousSubmitError)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("connection reset"),
        httpx.ReadError("reset by peer"),
        httpx.WriteTimeout("stuck"),
    ],
)
def test_post_is_never_retried_once_the_body_may_have_left(token: str, failure: Exception) -> None:
    handler, calls = scripted(failure, httpx.Response(202, json=ACCEPTED))
    with (
        make_client(handler, token) as client,
        pytest.raises(AmbiguousSubmitError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    assert len(calls) == 1
    assert caught.value.request_sent is True
    assert "billed" in str(caught.value)


def test_post_is_not_retried_after_5xx(token: str) -> None:
    body = {"error": {"code": 503, "message": "Service Unavailable", "details": "busy"}}
    handler, calls = scripted(httpx.Response(503, json=body), httpx.Response(202, json=ACCEPTED))
    with (
        make_client(handler, token) as client,
        pytest.raises(ServerError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    assert len(calls) == 1
    assert caught.value.status_code == 503


def test_get_is_retried_on_503_and_read_timeout(token: str) -> None:
    handler, calls = scripted(
        httpx.Response(503, text="<html>busy</html>"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json=DONE),
    )
    with make_client(handler, token) as client:
        status = client.status("r-1")
        assert client.usage().retries == 2
    assert status.status == "COMPLETED"
    assert [c.method for c in calls] == ["GET", "GET", "GET"]


def test_raw_delete_follows_post_rules_and_get_follows_get_rules(token: str) -> None:
    handler, calls = scripted(httpx.Response(502), httpx.Response(502), httpx.Response(204))
    with make_client(handler, token) as client:
        with pytest.raises(ServerError):
            client.request("DELETE", "/v1/tailored-gen/projects/7")
        assert len(calls) == 1
        assert client.request("GET", "/v1/tailored-gen/projects/7") is None
    assert len(calls) == 3


def test_backoff_is_full_jitter_within_the_cap(token: str) -> None:
    handler, calls = scripted(httpx.Response(503))
    with make_client(handler, token, max_attempts=4, retry_base_delay_s=0.02) as client:
        with pytest.raises(ServerError):
            client.status("r-1")
        usage = client.usage()
    assert len(calls) == 4
    assert usage.retries == 3
    assert 0 <= usage.retry_wait_s <= 0.02 + 0.04 + 0.08


def _state(attempt: int, error: BaseException) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_delay_rule_prefers_retry_after_and_caps_everything(token: str) -> None:
    handler, _ = scripted(httpx.Response(200))
    with make_client(handler, token, retry_base_delay_s=1.0, retry_max_delay_s=10) as client:
        core = client._core
        limited = RateLimitError("slow down", retry_after=3.0)
        assert core.retry_delay(_state(1, limited)) == 3.0
        assert core.retry_delay(_state(1, RateLimitError("x", retry_after=99))) == 10
        delays = [core.retry_delay(_state(5, ServerError("x"))) for _ in range(200)]
    assert all(0 <= d <= 10 for d in delays)  # attempt 5: window min(10, 1 * 2**4)
    assert max(delays) > 5 and min(delays) < 5  # spread over the window, not fixed


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("7", now=now) == 7
    assert parse_retry_after("0.25", now=now) == 0.25
    assert parse_retry_after("-3", now=now) == 0
    assert parse_retry_after(email.utils.formatdate(now + 42, usegmt=True), now=now) == 42
    assert parse_retry_after(email.utils.formatdate(now - 42, usegmt=True), now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


async def test_async_client_follows_the_same_rules(token: str) -> None:
    handler, calls = scripted(
        too_many("0.05"), httpx.ConnectError("refused"), httpx.Response(202, json=ACCEPTED)
    )
    transport = httpx.MockTransport(handler)
    async with AsyncBriaClient(api_token=token, transport=transport, **FAST) as client:
        assert (await client.submit("image/generate", {"prompt": "x"})).request_id == "r-1"
    assert len(calls) == 3

    handler, calls = scripted(httpx.ReadTimeout("slow"), httpx.Response(202, json=ACCEPTED))
    transport = httpx.MockTransport(handler)
    async with AsyncBriaClient(api_token=token, transport=transport, **FAST) as client:
        with pytest.raises(AmbiguousSubmitError):
            await client.submit("image/generate", {"prompt": "x"})
    assert len(calls) == 1

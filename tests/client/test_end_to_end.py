"""Both clients against a real loopback HTTP server that speaks the Bria protocol."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest

from bria_dagster.client import (
    AmbiguousSubmitError,
    AsyncBriaClient,
    BriaClient,
    BriaConnectionError,
    JobFailedError,
    JobResult,
    NotFoundError,
    WaitTimeoutError,
)

from .conftest import FAST
from .fixture_server import Fault, FixtureBria
from .test_ratelimit import busiest_window


def test_submit_wait_download(client: BriaClient, server: FixtureBria) -> None:
    server.reset(server.state.token, polls_until_done=3)
    submission = client.submit("image/generate", {"prompt": "a red bicycle"})
    assert submission.endpoint == "/v2/image/generate"
    result = client.wait(submission)
    assert result.request_id == submission.request_id
    assert result.seed == 42 and result.prompt == "a red bicycle"
    chunks: list[bytes] = []
    client.download(result.image_url or "", chunks.append)
    assert b"".join(chunks) == server.file_bytes
    usage = client.usage()
    assert usage.calls == {"/v2/image/generate": 1, "/v2/status": 3}
    assert usage.status_polls == 3 and usage.job_wait_s > 0


def test_run_uses_one_sync_call_where_allowed(client: BriaClient, server: FixtureBria) -> None:
    result = client.run("image/edit/remove_background", {"image": "https://cdn/x.png"})
    assert result.image_url and result.image_url.endswith(".png")
    [post] = server.seen("POST")
    assert json.loads(post.body)["sync"] is True
    assert server.seen("GET") == []


def test_run_submits_and_polls_async_only_endpoints(
    client: BriaClient, server: FixtureBria
) -> None:
    result = client.run("image/edit/enhance", {"image": "https://cdn/x.png"})
    assert result.image_url
    [post] = server.seen("POST")
    assert json.loads(post.body)["sync"] is False
    assert len(server.seen("GET", "/v2/status/")) == 1


def test_a_failed_job_raises_with_its_request_id(client: BriaClient, server: FixtureBria) -> None:
    submission = client.submit("image/generate", {"prompt": "fail"})
    with pytest.raises(JobFailedError) as caught:
        client.wait(submission)
    assert caught.value.request_id == submission.request_id
    assert caught.value.is_moderation and "Content moderation failed" in str(caught.value)


def test_submit_429_is_retried_after_retry_after(client: BriaClient, server: FixtureBria) -> None:
    envelope = {"error": {"code": 429, "message": "Request limit exceeded"}, "request_id": "x"}
    server.add_fault(Fault("POST", "/v2/", 429, {"Retry-After": "0.2"}, envelope))
    start = time.monotonic()
    submission = client.submit("image/generate", {"prompt": "x"})
    posts = server.seen("POST")
    assert len(posts) == 2 and posts[1].at - posts[0].at >= 0.2
    assert time.monotonic() - start >= 0.2
    assert client.wait(submission).request_id == submission.request_id
    assert (client.usage().rate_limited, client.usage().retries) == (1, 1)


def test_poll_hiccups_never_fail_the_job(client: BriaClient, server: FixtureBria) -> None:
    server.reset(server.state.token, polls_until_done=2)
    submission = client.submit("image/generate", {"prompt": "x"})
    server.add_fault(Fault("GET", "/v2/status/", 503, body={"error": {"code": 503}}))
    server.add_fault(Fault("GET", "/v2/status/", 429, {"Retry-After": "0.1"}))
    server.add_fault(Fault("GET", "/v2/status/", 502, body=b"<html>bad gateway</html>"))
    assert client.wait(submission).request_id == submission.request_id
    assert len(server.seen("GET", "/v2/status/")) == 5
    assert client.usage().rate_limited == 1


def test_unknown_request_id_is_not_found(client: BriaClient, server: FixtureBria) -> None:
    with pytest.raises(NotFoundError):
        client.status("0123456789abcdef")
    with pytest.raises(NotFoundError):
        client.wait("0123456789abcdef")


def test_resuming_a_wait_by_request_id(client: BriaClient, server: FixtureBria) -> None:
    submission = client.submit("image/generate", {"prompt": "x"})
    assert client.status(submission.request_id).status == "COMPLETED"
    assert client.wait(submission.request_id).request_id == submission.request_id


def test_wait_times_out_without_failing_the_job(client: BriaClient, server: FixtureBria) -> None:
    server.reset(server.state.token, polls_until_done=10**6)
    submission = client.submit("image/generate", {"prompt": "slow"})
    start = time.monotonic()
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait(submission, timeout=0.3)
    assert 0.3 <= time.monotonic() - start < 1.0
    assert caught.value.request_id == submission.request_id
    assert caught.value.waited_seconds >= 0.3


def test_no_answer_to_a_submit_is_ambiguous_and_not_retried(
    server: FixtureBria, token: str
) -> None:
    server.add_fault(Fault("POST", "/v2/", 202, hang_s=1.0))
    settings: dict[str, Any] = {**FAST, "read_timeout_s": 0.3}
    with (
        BriaClient(api_token=token, base_url=server.url, **settings) as client,
        pytest.raises(AmbiguousSubmitError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    assert len(server.seen("POST")) == 1
    assert caught.value.endpoint == "/v2/image/generate"


def test_refused_connections_are_retried_and_reported_as_not_sent(token: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}"
    with (
        BriaClient(api_token=token, base_url=url, **FAST) as client,
        pytest.raises(BriaConnectionError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
        assert client.usage().calls == {"/v2/image/generate": FAST["max_attempts"]}
    assert caught.value.request_sent is False


async def test_wait_many_polls_within_the_status_budget(server: FixtureBria, token: str) -> None:
    # Bria allows 6 per (scaled) window. The client takes 3: on a loaded machine one batch of
    # requests can reach the server later than the next batch, so two batches may land in one
    # server window; with 3 per batch that is still within 6.
    budget = {**FAST, "requests_per_minute": 6, "rate_limit_fraction": 0.5}
    async with AsyncBriaClient(
        api_token=token, base_url=server.url, rate_limit_window_s=0.5, **budget
    ) as client:
        jobs = await asyncio.gather(
            *(client.submit("image/generate", {"prompt": f"p{i}"}) for i in range(12))
        )
        results = await client.wait_many(jobs)
    assert [r.request_id for r in results if isinstance(r, JobResult)] == [
        job.request_id for job in jobs
    ]
    polls = [seen.at for seen in server.seen("GET", "/v2/status/")]
    assert len(polls) == 12
    assert busiest_window(polls, 0.5) <= 6
    assert busiest_window([seen.at for seen in server.seen("POST")], 0.5) <= 6


async def test_as_completed_yields_every_job_once(
    aclient: AsyncBriaClient, server: FixtureBria
) -> None:
    server.reset(server.state.token, polls_until_done=2)
    jobs = [await aclient.submit("image/generate", {"prompt": f"p{i}"}) for i in range(5)]
    jobs.append(await aclient.submit("image/generate", {"prompt": "fail"}))
    seen: dict[int, Any] = {}
    async for outcome in aclient.as_completed(jobs):
        seen[outcome.index] = outcome
    assert sorted(seen) == list(range(6))
    assert all(seen[i].ok and seen[i].unwrap().request_id == jobs[i].request_id for i in range(5))
    assert isinstance(seen[5].error, JobFailedError)
    with pytest.raises(JobFailedError):
        seen[5].unwrap()


async def test_wait_many_errors_raise_or_take_their_place(
    aclient: AsyncBriaClient, server: FixtureBria
) -> None:
    good = await aclient.submit("image/generate", {"prompt": "ok"})
    bad = await aclient.submit("image/generate", {"prompt": "fail"})
    with pytest.raises(JobFailedError):
        await aclient.wait_many([good, bad])
    mixed = await aclient.wait_many([bad, good], return_exceptions=True)
    assert isinstance(mixed[0], JobFailedError)
    assert isinstance(mixed[1], JobResult) and mixed[1].request_id == good.request_id
    assert (await aclient.wait(good)).request_id == good.request_id
    assert (await aclient.run("image/edit/enhance", {"image": "https://x/y.png"})).image_url


async def test_async_wait_survives_hiccups_and_times_out(
    aclient: AsyncBriaClient, server: FixtureBria
) -> None:
    server.reset(server.state.token, polls_until_done=10**6)
    job = await aclient.submit("image/generate", {"prompt": "slow"})
    server.add_fault(Fault("GET", "/v2/status/", 500))
    with pytest.raises(WaitTimeoutError):
        await aclient.wait(job, timeout=0.3)
    assert len(server.seen("GET", "/v2/status/")) >= 3


async def test_sync_wait_many_works_inside_a_running_event_loop(
    client: BriaClient, server: FixtureBria
) -> None:
    jobs = [client.submit("image/generate", {"prompt": f"p{i}"}) for i in range(4)]
    results = client.wait_many(jobs)
    assert [r.request_id for r in results if isinstance(r, JobResult)] == [
        j.request_id for j in jobs
    ]
    assert client.usage().status_polls == 4  # counted on the sync client's counters


def test_raw_requests_keep_auth_and_body_rules(client: BriaClient, server: FixtureBria) -> None:
    echoed = client.request(
        "POST", "/v1/tailored-gen/projects", json={"name": "brand", "note": None}
    )
    assert echoed["json"] == {"name": "brand"}
    assert client.request("GET", "/v1/ads/templates", params={"page": 2})["query"] == {"page": "2"}
    upload = client.request(
        "POST",
        "/v1/tailored-gen/datasets/7/images",
        files={"file": ("a.png", server.file_bytes, "image/png")},
        data={"caption": "x"},
    )
    assert upload["content_type"].startswith("multipart/form-data")
    [*_, last] = server.seen("POST", "/v1/tailored-gen/datasets/")
    assert b'filename="a.png"' in last.body and server.file_bytes in last.body
    assert all(seen.headers.get("api_token") == server.state.token for seen in server.seen())

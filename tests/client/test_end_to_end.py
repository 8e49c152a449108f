"""Both clients against the emulator over real loopback HTTP; the wire as its request log saw it."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from typing import Any

import httpx
import pytest

from bria_dagster.client import (
    AmbiguousSubmitError,
    AsyncBriaClient,
    BriaClient,
    BriaConnectionError,
    BriaError,
    JobFailedError,
    JobResult,
    NotFoundError,
    WaitTimeoutError,
)
from bria_dagster.emulator import EmulatorServer, FaultRule
from bria_dagster.emulator.ratelimit import token_hash

from .conftest import FAST, answer_once, png_bytes
from .test_ratelimit import busiest_window

IMAGE = base64.b64encode(png_bytes()).decode()
"""An input image the emulator can read (a URL would have to be fetched)."""
SLOW_JOBS = pytest.mark.bria_emulator(latency={"*": 60})
"""Jobs that stay IN_PROGRESS for the whole test."""
SECOND_JOBS = pytest.mark.bria_emulator(latency={"*": 0.3})
"""Jobs surely IN_PROGRESS at the first poll, even on a loaded machine."""


def status_polls(emulator: EmulatorServer, request_id: str = "*") -> list[Any]:
    """The status reads the emulator received (of one job, or all)."""
    return emulator.requests(method="GET", path=f"/v2/status/{request_id}")


@SECOND_JOBS
def test_submit_wait_download(client: BriaClient, emulator: EmulatorServer) -> None:
    submission = client.submit("image/generate", {"prompt": "a red bicycle"})
    assert submission.endpoint == "/v2/image/generate"
    result = client.wait(submission)
    assert result.request_id == submission.request_id
    job = emulator.state.jobs.get(submission.request_id)
    assert job is not None and result.seed == job.seed  # sent as a string, parsed
    assert result.prompt == "a red bicycle"
    chunks: list[bytes] = []
    client.download(result.image_url or "", chunks.append)
    assert b"".join(chunks) == httpx.get(result.image_url or "").content
    assert b"".join(chunks).startswith(b"\x89PNG")
    polls = len(status_polls(emulator, submission.request_id))
    assert polls >= 2  # the job was IN_PROGRESS at first
    usage = client.usage()
    assert usage.calls == {"/v2/image/generate": 1, "/v2/status": polls}
    assert usage.status_polls == polls and usage.job_wait_s > 0


def test_run_uses_one_sync_call_where_allowed(client: BriaClient, emulator: EmulatorServer) -> None:
    result = client.run("image/edit/remove_background", {"image": IMAGE})
    assert result.image_url and ".png" in result.image_url
    [post] = emulator.requests(method="POST")
    assert post.json == {"image": IMAGE, "sync": True}
    assert emulator.requests(method="GET", path="/v2/*") == []


def test_run_submits_and_polls_async_only_endpoints(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    result = client.run("image/edit/enhance", {"image": IMAGE})
    assert result.image_url
    [post] = emulator.requests(method="POST")
    assert json.loads(post.body)["sync"] is False
    polls = status_polls(emulator)
    assert polls and all(p.path == f"/v2/status/{result.request_id}" for p in polls)
    assert client.usage().status_polls == len(polls)


def test_a_failed_job_raises_with_its_request_id(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    submission = client.submit("image/generate", {"prompt": "fail"})
    with pytest.raises(JobFailedError) as caught:
        client.wait(submission)
    assert caught.value.request_id == submission.request_id
    assert caught.value.is_moderation and "Content moderation failed" in str(caught.value)


def test_submit_429_is_retried_after_retry_after(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    envelope = {"error": {"code": 429, "message": "Request limit exceeded"}, "request_id": "x"}
    emulator.state.configure(
        faults=[answer_once("submits", 429, headers={"Retry-After": "0.2"}, body=envelope)]
    )
    start = time.monotonic()
    submission = client.submit("image/generate", {"prompt": "x"})
    posts = emulator.requests(method="POST")
    assert [p.status for p in posts] == [429, 202]
    assert posts[0].body == posts[1].body  # the same request again
    assert posts[1].time - posts[0].time >= 0.2
    assert time.monotonic() - start >= 0.2
    assert client.wait(submission).request_id == submission.request_id
    assert (client.usage().rate_limited, client.usage().retries) == (1, 1)


def test_poll_hiccups_never_fail_the_job(client: BriaClient, emulator: EmulatorServer) -> None:
    submission = client.submit("image/generate", {"prompt": "x"})
    emulator.state.configure(
        faults=[
            answer_once("status", 503, body={"error": {"code": 503}}),
            answer_once("status", 429, headers={"Retry-After": "0.1"}),
            answer_once("status", 502, text="<html>bad gateway</html>"),
        ]
    )
    assert client.wait(submission).request_id == submission.request_id
    statuses = [p.status for p in status_polls(emulator)]
    assert statuses[:3] == [503, 429, 502] and statuses[3:] and set(statuses[3:]) == {200}
    assert client.usage().rate_limited == 1


def test_unknown_request_id_is_not_found(client: BriaClient, emulator: EmulatorServer) -> None:
    with pytest.raises(NotFoundError):
        client.status("0123456789abcdef")
    with pytest.raises(NotFoundError):
        client.wait("0123456789abcdef")
    assert [p.status for p in status_polls(emulator)] == [404, 404]


@SECOND_JOBS
def test_resuming_a_wait_by_request_id(client: BriaClient, emulator: EmulatorServer) -> None:
    submission = client.submit("image/generate", {"prompt": "x"})
    assert client.status(submission.request_id).status == "IN_PROGRESS"
    assert client.wait(submission.request_id).request_id == submission.request_id
    assert client.status(submission.request_id).status == "COMPLETED"


@SLOW_JOBS
def test_wait_times_out_without_failing_the_job(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    submission = client.submit("image/generate", {"prompt": "slow"})
    start = time.monotonic()
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait(submission, timeout=0.3)
    assert 0.3 <= time.monotonic() - start < 1.0
    assert caught.value.request_id == submission.request_id
    assert caught.value.waited_seconds >= 0.3


def test_no_answer_to_a_submit_is_ambiguous_and_not_retried(
    emulator: EmulatorServer, token: str
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="slow", on="submits", delay_s=1.0, count=1)])
    settings: dict[str, Any] = {**FAST, "read_timeout_s": 0.3}
    with (
        BriaClient(api_token=token, base_url=emulator.base_url, **settings) as client,
        pytest.raises(AmbiguousSubmitError) as caught,
    ):
        client.submit("image/generate", {"prompt": "x"})
    [post] = emulator.requests(method="POST")
    assert post.status is None  # still unanswered when the client gave up
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


async def test_wait_many_polls_within_the_status_budget(
    emulator: EmulatorServer, token: str
) -> None:
    # Bria allows 6 per (scaled) window. The client takes 3: on a loaded machine one batch of
    # requests can reach the server later than the next batch, so two batches may land in one
    # server window; with 3 per batch that is still within 6.
    budget = {**FAST, "requests_per_minute": 6, "rate_limit_fraction": 0.5}
    async with AsyncBriaClient(
        api_token=token, base_url=emulator.base_url, rate_limit_window_s=0.5, **budget
    ) as client:
        jobs = await asyncio.gather(
            *(client.submit("image/generate", {"prompt": f"p{i}"}) for i in range(12))
        )
        results = await client.wait_many(jobs)
    assert [r.request_id for r in results if isinstance(r, JobResult)] == [
        job.request_id for job in jobs
    ]
    polls = [seen.time for seen in status_polls(emulator)]
    assert len(polls) >= 12 and len(polls) == client.usage().status_polls
    assert busiest_window(polls, 0.5) <= 6
    assert busiest_window([seen.time for seen in emulator.requests(method="POST")], 0.5) <= 6


async def test_as_completed_yields_every_job_once(
    aclient: AsyncBriaClient, emulator: EmulatorServer
) -> None:
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
    aclient: AsyncBriaClient, emulator: EmulatorServer
) -> None:
    good = await aclient.submit("image/generate", {"prompt": "ok"})
    bad = await aclient.submit("image/generate", {"prompt": "fail"})
    with pytest.raises(JobFailedError):
        await aclient.wait_many([good, bad])
    mixed = await aclient.wait_many([bad, good], return_exceptions=True)
    assert isinstance(mixed[0], JobFailedError)
    assert isinstance(mixed[1], JobResult) and mixed[1].request_id == good.request_id
    assert (await aclient.wait(good)).request_id == good.request_id
    assert (await aclient.run("image/edit/enhance", {"image": IMAGE})).image_url


@SLOW_JOBS
async def test_async_wait_survives_hiccups_and_times_out(
    aclient: AsyncBriaClient, emulator: EmulatorServer
) -> None:
    job = await aclient.submit("image/generate", {"prompt": "slow"})
    emulator.state.configure(
        faults=[FaultRule(kind="server_error", on="status", status_code=500, count=1)]
    )
    with pytest.raises(WaitTimeoutError):
        await aclient.wait(job, timeout=0.3)
    statuses = [p.status for p in status_polls(emulator)]
    assert len(statuses) >= 3 and statuses[0] == 500 and set(statuses[1:]) == {200}


async def test_sync_wait_many_works_inside_a_running_event_loop(
    client: BriaClient, emulator: EmulatorServer
) -> None:
    jobs = [client.submit("image/generate", {"prompt": f"p{i}"}) for i in range(4)]
    results = client.wait_many(jobs)
    assert [r.request_id for r in results if isinstance(r, JobResult)] == [
        j.request_id for j in jobs
    ]
    polls = len(status_polls(emulator))
    assert polls >= 4
    assert client.usage().status_polls == polls  # counted on the sync client's counters


def test_raw_requests_keep_auth_and_body_rules(
    client: BriaClient, emulator: EmulatorServer, token: str
) -> None:
    project = {"project_name": "brand", "ip_medium": "illustration", "ip_type": "icons"}
    created = client.request(
        "POST", "/v1/tailored-gen/projects", json={**project, "project_description": None}
    )
    [sent] = emulator.requests(method="POST", path="/v1/tailored-gen/projects")
    assert sent.json == project  # None dropped
    assert created["project_name"] == "brand"
    client.request("GET", "/v1/ads/templates", params={"page": 2})
    [listing] = emulator.requests(path="/v1/ads/templates")
    assert listing.query == "page=2"
    image = png_bytes()
    with pytest.raises(BriaError):  # the emulator takes JSON image uploads only: a 400
        client.request(
            "POST",
            f"/v1/tailored-gen/datasets/{created['id']}/images",
            files={"file": ("a.png", image, "image/png")},
            data={"caption": "x"},
        )
    [upload] = emulator.requests(path="/v1/tailored-gen/datasets/*")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="a.png"' in upload.body and image in upload.body
    assert b'name="caption"' in upload.body
    assert all(seen.token == token_hash(token) for seen in emulator.requests())


@pytest.mark.parametrize("rpm", [250, 1000])
async def test_many_jobs_finish_with_few_polls_and_no_429(
    emulator: EmulatorServer, token: str, rpm: int
) -> None:
    # 200 jobs. With 250 per 4 s the client allows itself 225 status polls per window: the plan
    # must fit about one poll per job into it rather than spend it early and wait for the next
    # one. With 1000, the budget is ample, and the plan must still not spend it for nothing.
    emulator.state.configure(latency={"*": "lognormal:0.4,0.5"}, rpm=rpm, rate_window_s=4.0)
    settings = {
        **FAST,
        "requests_per_minute": rpm,
        "rate_limit_window_s": 4.0,
        "poll_first_factor": 0.05,  # prior median 8 s x 0.05 = the emulator's 0.4 s
        "poll_max_interval_s": 15.0,
    }
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **settings) as bria:
        jobs = await asyncio.gather(
            *(bria.submit("image/generate", {"prompt": f"p{i}"}) for i in range(200))
        )
        results = await bria.wait_many(jobs)
    assert [r.request_id for r in results if isinstance(r, JobResult)] == [
        job.request_id for job in jobs
    ]
    assert len(status_polls(emulator)) <= 1.3 * 200
    assert [seen for seen in emulator.requests() if seen.status == 429] == []

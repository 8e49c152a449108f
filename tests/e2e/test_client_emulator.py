"""The client against the project's emulator over real HTTP: the rules that protect users."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import time

import pytest
from PIL import Image

from bria_dagster.client import (
    AmbiguousSubmitError,
    AsyncBriaClient,
    BriaClient,
    BriaConnectionError,
    DownloadError,
    JobFailedError,
    NotFoundError,
    ValidationError,
    verify_webhook,
)
from bria_dagster.emulator import EmulatorServer, FaultRule
from tests.emulator_core.helpers import receiver

from .conftest import FAST_CLIENT

GENERATE = "/v2/image/generate"
RMBG = "/v2/image/edit/remove_background"


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_submit_wait_download_gives_a_real_image(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    job = bria.submit("image/generate", {"prompt": "a red bicycle", "seed": 3})
    result = bria.wait(job)
    assert result.request_id == job.request_id
    assert result.seed == 3
    assert result.structured_prompt and "short_description" in json.loads(result.structured_prompt)
    buffer = io.BytesIO()
    download = bria.download(result.image_url, buffer)
    assert download.sha256 == hashlib.sha256(buffer.getvalue()).hexdigest()
    assert download.size == len(buffer.getvalue()) > 0
    assert _image(buffer.getvalue()).size[0] > 0
    stats = emulator.stats()
    assert stats.submits == {GENERATE: 1}
    assert stats.status_polls[job.request_id] == bria.usage().status_polls


def test_run_is_one_sync_call_where_allowed_and_polls_where_not(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    first = bria.run("image/generate", {"prompt": "a blue mug"})
    assert first.image_url
    assert emulator.stats().status_polls_total == 0  # sync=true: no status call at all
    image = bria.download(first.image_url, io.BytesIO())
    assert image.size > 0
    enhanced = bria.run("image/edit/enhance", {"image": first.image_url})
    assert enhanced.image_url
    assert emulator.stats().status_polls_total >= 1  # async only: submitted and polled


def test_a_cutout_from_a_generated_image_has_real_alpha(bria: BriaClient) -> None:
    photo = bria.run("image/generate", {"prompt": "a green backpack", "seed": 11})
    cut = bria.run(RMBG, {"image": photo.image_url})
    buffer = io.BytesIO()
    bria.download(cut.image_url, buffer)
    alpha = _image(buffer.getvalue()).getchannel("A")
    low, high = alpha.getextrema()
    assert (low, high) == (0, 255)


def test_ambiguous_submit_is_not_retried_and_bills_once(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=(FaultRule(kind="drop_after", on="submits", count=1),))
    with pytest.raises(AmbiguousSubmitError):
        bria.submit(GENERATE, {"prompt": "a lamp"})
    stats = emulator.stats()
    assert stats.submits == {GENERATE: 1}  # the job exists: resubmitting would pay twice
    assert stats.requests.get(f"POST {GENERATE}") == 1  # and the client did not try again


def test_a_closed_port_is_reported_as_not_sent(token: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = {**FAST_CLIENT, "max_attempts": 2}
    with (
        BriaClient(api_token=token, base_url=f"http://127.0.0.1:{port}", **settings) as client,
        pytest.raises(BriaConnectionError) as caught,
    ):
        client.submit(GENERATE, {"prompt": "x"})
    assert caught.value.request_sent is False
    assert client.usage().retries == 1


def test_status_5xx_and_429_are_retried_and_the_job_completes(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    job = bria.submit(GENERATE, {"prompt": "a watch"})
    emulator.state.configure(
        faults=(FaultRule(kind="server_error", on="status", count=2),), rpm=1000
    )
    result = bria.wait(job)
    assert result.image_url
    assert emulator.stats().faults.get("server_error") == 2
    assert bria.usage().status_polls >= 3  # two hiccups rescheduled, then the answer


def test_submit_429_waits_for_retry_after_then_succeeds(
    emulator: EmulatorServer, token: str
) -> None:
    emulator.state.configure(rpm=2, rate_window_s=1.0)
    # The client believes it has a large budget, so the emulator's limit is what it meets.
    settings = {**FAST_CLIENT, "requests_per_minute": 10_000, "max_attempts": 6}
    with BriaClient(api_token=token, base_url=emulator.base_url, **settings) as client:
        jobs = [client.submit(GENERATE, {"prompt": f"shoe {i}"}) for i in range(4)]
    assert len({j.request_id for j in jobs}) == 4
    stats = emulator.stats()
    assert stats.submits == {GENERATE: 4}  # every 429 was rejected unbilled, each job made once
    assert stats.rate_limited.get(GENERATE, 0) >= 1
    assert client.usage().rate_limited == stats.rate_limited[GENERATE]


def test_a_failed_job_carries_request_id_and_brias_error(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=(FaultRule(kind="job_error", count=1),))
    job = bria.submit(GENERATE, {"prompt": "a speaker"})
    with pytest.raises(JobFailedError) as caught:
        bria.wait(job)
    assert caught.value.request_id == job.request_id
    assert caught.value.status == "ERROR"
    assert caught.value.message


def test_moderation_fails_the_job_and_a_sync_call_with_422(bria: BriaClient) -> None:
    with pytest.raises(ValidationError) as refused:
        bria.run(GENERATE, {"prompt": "a [moderate] poster"})
    assert refused.value.is_moderation
    job = bria.submit(GENERATE, {"prompt": "a [moderate] poster"})
    with pytest.raises(JobFailedError) as failed:
        bria.wait(job)
    assert failed.value.is_moderation


def test_unknown_request_is_not_found(bria: BriaClient) -> None:
    with pytest.raises(NotFoundError):
        bria.status("0" * 32)


def test_an_expired_result_url_is_renewed_by_the_status_service(
    bria: BriaClient, emulator: EmulatorServer
) -> None:
    emulator.state.configure(result_ttl_s=0.3)
    result = bria.wait(bria.submit(GENERATE, {"prompt": "a duffel bag"}))
    time.sleep(1.4)  # URLs carry whole-second expiry times
    with pytest.raises(DownloadError) as caught:
        bria.download(result.image_url, io.BytesIO())
    assert caught.value.expired
    fresh = bria.status(result.request_id)
    assert fresh.result is not None and fresh.result.image_url != result.image_url
    assert bria.download(fresh.result.image_url, io.BytesIO()).size > 0


def test_webhook_delivery_verifies_with_the_token(
    bria: BriaClient, emulator: EmulatorServer, token: str
) -> None:
    with receiver() as hook:
        job = bria.submit(GENERATE, {"prompt": "a beanie"}, webhook_url=f"{hook.url}/bria")
        delivery = hook.next_delivery(timeout=10)
    assert verify_webhook(token, delivery.headers, delivery.body) == job.request_id
    body = json.loads(delivery.body)
    assert body["status"] == "COMPLETED" and body["result"]["image_url"]


async def test_wait_many_spends_few_status_polls(emulator: EmulatorServer, token: str) -> None:
    emulator.state.configure(latency={"*": "fixed:0.5"})
    # First poll at the expected latency (0.5 s here): most jobs are done at their first poll.
    settings = {**FAST_CLIENT, "poll_first_factor": 0.5 / 8.0, "poll_interval_s": 0.2}
    async with AsyncBriaClient(api_token=token, base_url=emulator.base_url, **settings) as c:
        jobs = [await c.submit(GENERATE, {"prompt": f"product {i}"}) for i in range(20)]
        results = await c.wait_many(jobs)
    assert all(r.image_url for r in results)
    polls = emulator.stats().status_polls_total
    assert polls <= 2 * len(jobs), polls


def test_the_token_never_reaches_logs_or_errors(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "tok-SECRET-" + "7" * 24
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with BriaClient(api_token=token, base_url=emulator.base_url, **FAST_CLIENT) as client:
        result = client.run(GENERATE, {"prompt": "a lamp"})
        client.download(result.image_url, io.BytesIO())
        emulator.state.configure(forbidden_token=token)
        for call in (
            lambda: client.submit(GENERATE, {"prompt": "x"}),
            lambda: client.status("missing"),
            lambda: client.submit(GENERATE, {"prompt": 5}),
        ):
            try:
                call()
            except Exception as exc:
                texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
        texts.append(repr(client))
    captured = capsys.readouterr()
    everything = "\n".join([*texts, caplog.text, captured.out, captured.err])
    assert "bria_dagster.client" in caplog.text  # the calls were logged at DEBUG
    assert token not in everything

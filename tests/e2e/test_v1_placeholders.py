"""Bria's v1 placeholder results on the emulator, and the client waiting for them.

``/v1/ads/generate`` and the v1 shot calls sent with ``sync: false`` answer at once with their
final URLs; each URL answers 404 until the job's latency has passed, then the file; a
moderated ad becomes a zero-byte file (bria-api.md §5.2, §5.4).
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from bria_dagster.client import BriaClient
from bria_dagster.client.errors import JobFailedError, WaitTimeoutError
from bria_dagster.emulator import EmulatorServer
from tests.e2e.conftest import FAST_CLIENT

AD = {
    "template_id": "1061",
    "elements": [{"layer_type": "text", "content_type": "Heading #1", "content": "Sale now"}],
}


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def slow_v1(emulator: EmulatorServer) -> EmulatorServer:
    emulator.state.configure(latency={"ads": "fixed:1.5", "product": "fixed:1.5", "*": "fixed:0.1"})
    return emulator


def _post(emulator: EmulatorServer, path: str, body: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    answer = httpx.post(emulator.base_url + path, json=body, headers={"api_token": "t"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started, answer.json()


def test_ads_answer_at_once_with_urls_that_404_until_the_latency_passed(
    slow_v1: EmulatorServer,
) -> None:
    took, body = _post(slow_v1, "/v1/ads/generate", AD)
    assert took < 1.0
    url = body["result"][0]["url"]
    assert httpx.get(url).status_code == 404
    time.sleep(1.6)
    filled = httpx.get(url)
    assert filled.status_code == 200 and filled.content.startswith(b"\x89PNG")


def test_a_moderated_ad_becomes_a_zero_byte_file(slow_v1: EmulatorServer) -> None:
    slow_v1.state.configure(latency={"ads": "fixed:0.2"})
    flagged = {**AD, "content_moderation": True}
    flagged["elements"] = [{**AD["elements"][0], "content": "[moderate] sale"}]
    _, body = _post(slow_v1, "/v1/ads/generate", flagged)
    time.sleep(0.3)
    filled = httpx.get(body["result"][0]["url"])
    assert filled.status_code == 200 and filled.content == b""


def test_shots_with_sync_false_are_placeholders_and_sync_true_waits(
    slow_v1: EmulatorServer,
) -> None:
    shot = {"file": _png(), "scene_description": "a kitchen", "num_results": 2}
    took, body = _post(slow_v1, "/v1/product/lifestyle_shot_by_text", {**shot, "sync": False})
    assert took < 1.0
    urls = [item[0] for item in body["result"]]
    assert len(urls) == 2 and all(httpx.get(u).status_code == 404 for u in urls)
    took, body = _post(slow_v1, "/v1/product/lifestyle_shot_by_text", {**shot, "sync": True})
    assert took >= 1.4
    assert httpx.get(body["result"][0][0]).status_code == 200


def test_the_polled_fibo_edit_result_names_structured_prompt(emulator: EmulatorServer) -> None:
    http = httpx.Client(base_url=emulator.base_url, headers={"api_token": "t"}, timeout=30)
    body = {"images": [_png()], "instruction": "make it blue"}
    submitted = http.post("/v2/image/edit", json=body).json()
    deadline = time.monotonic() + 10
    while (status := http.get(f"/v2/status/{submitted['request_id']}").json())[
        "status"
    ] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "structured_prompt" in status["result"]
    assert "structured_instruction" not in status["result"]
    synced = http.post("/v2/image/edit", json={**body, "sync": True}).json()["result"]
    assert "structured_instruction" in synced and "structured_prompt" not in synced


# --- the client ---------------------------------------------------------------------------


def test_the_client_waits_for_the_ads_files(slow_v1: EmulatorServer, bria: BriaClient) -> None:
    started = time.monotonic()
    ads = bria.ads.generate(**AD)
    assert time.monotonic() - started >= 1.4
    assert httpx.get(ads.ads[0].url or "").status_code == 200
    posts = slow_v1.state.snapshot().submits
    assert posts.get("/v1/ads/generate") == 1  # waited by probing the URL, never re-POSTed


def test_a_moderated_ad_raises_job_failed_with_is_moderation(
    slow_v1: EmulatorServer, bria: BriaClient
) -> None:
    flagged = {**AD, "content_moderation": True}
    flagged["elements"] = [{**AD["elements"][0], "content": "[moderate] sale"}]
    with pytest.raises(JobFailedError) as caught:
        bria.ads.generate(**flagged)
    assert caught.value.is_moderation


def test_a_placeholder_that_never_fills_raises_wait_timeout_naming_url_and_request(
    slow_v1: EmulatorServer, token: str
) -> None:
    slow_v1.state.configure(latency={"ads": "fixed:60"})
    settings = {**FAST_CLIENT, "wait_timeout_s": 1.0}
    with (
        BriaClient(api_token=token, base_url=slow_v1.base_url, **settings) as client,
        pytest.raises(WaitTimeoutError) as caught,
    ):
        client.ads.generate(**AD)
    assert caught.value.url and "/files/" in caught.value.url
    assert "/v1/ads/generate" in str(caught.value) and "/files/" in str(caught.value)
    assert slow_v1.state.snapshot().submits.get("/v1/ads/generate") == 1


async def test_the_async_client_waits_for_lifestyle_placeholders(
    slow_v1: EmulatorServer, abria: Any
) -> None:
    shots = await abria.product.lifestyle_shot_by_text(
        file=_png(), scene_description="a kitchen", num_results=2, sync=False
    )
    assert len(shots.urls) == 2
    async with httpx.AsyncClient() as http:
        for url in shots.urls:
            assert (await http.get(url)).status_code == 200

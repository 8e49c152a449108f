"""Sliding-window rate limits per token and endpoint, 429 with Retry-After."""

from __future__ import annotations

import math
import time

import httpx

from bria_dagster.emulator.ratelimit import RateLimiter

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, GENERATE_PATH, b64, png_bytes


def test_excess_gets_429_with_retry_after_then_recovers(start_emulator: StartEmulator) -> None:
    # A window of seconds, not one: on a loaded machine four POSTs can take longer than 1 s.
    emulator = start_emulator(rpm=3, rate_window_s=4.0)
    body = {"image": b64(png_bytes())}
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        first = time.monotonic()
        codes = [client.post(EDIT_PATH, json=body).status_code for _ in range(3)]
        limited = client.post(EDIT_PATH, json=body)
        assert codes == [202, 202, 202]
        assert limited.status_code == 429
        assert limited.json()["error"] == {
            "code": 429,
            "message": "Request limit exceeded",
            "details": limited.json()["error"]["details"],
        }
        assert 1 <= int(limited.headers["Retry-After"]) <= 4

        # Other endpoints, status polls and other tokens have their own windows.
        assert client.post(GENERATE_PATH, json={"prompt": "x"}).status_code == 202
        assert client.get("/v2/status/abc").status_code == 404
        other = client.post(EDIT_PATH, json=body, headers={"api_token": "another-token"})
        assert other.status_code == 202

        time.sleep(max(0.0, first + 4.05 - time.monotonic()))
        assert client.post(EDIT_PATH, json=body).status_code == 202
    stats = emulator.stats()
    assert stats.rate_limited == {EDIT_PATH: 1}
    assert stats.submits[EDIT_PATH] == 5


def test_status_polls_count_against_their_own_limit(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(rpm=2, rate_window_s=30.0)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        codes = [client.get("/v2/status/abc").status_code for _ in range(3)]
        assert codes == [404, 404, 429]
        retry_after = int(client.get("/v2/status/abc").headers["Retry-After"])
        assert 28 <= retry_after <= 30
        assert client.post(EDIT_PATH, json={"image": b64(png_bytes())}).status_code == 202
    assert emulator.stats().rate_limited == {"/v2/status": 2}


def test_retry_after_is_the_time_until_the_oldest_slot_frees() -> None:
    limiter = RateLimiter(rpm=2, window_s=10.0)
    assert limiter.acquire("t", "/e") is None
    time.sleep(0.3)
    assert limiter.acquire("t", "/e") is None
    wait = limiter.acquire("t", "/e")
    assert wait == math.ceil(10.0 - 0.3)
    limiter.configure(rpm=None, window_s=10.0)
    assert all(limiter.acquire("t", "/e") is None for _ in range(100))


def test_runtime_rpm_change(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(rpm=1000)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        changed = client.post("/_emulator/config", json={"rpm": 1})
        assert changed.json()["rpm"] == 1
        assert [client.get("/v2/status/x").status_code for _ in range(2)] == [404, 429]

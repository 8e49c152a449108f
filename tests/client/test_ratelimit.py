"""The rate limiter: never more than N slots in any window, shared across threads, processes
and machines (SQLite, Redis, PostgreSQL on the local servers), slowed by 429s.

Windows are scaled down to about a second (``rate_limit_window_s``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from bria_dagster.client import BriaClient, RateLimitError
from bria_dagster.client.ratelimit import (
    Gate,
    RateLimiter,
    budget_key,
    send_margin_s,
    token_fingerprint,
)
from bria_dagster.client.ratelimit_stores import MemoryStore, PostgresStore, RedisStore, open_store
from bria_dagster.emulator import EmulatorServer

from .conftest import FAST, answer_once

ENDPOINT = "/v2/image/generate"
REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SLACK_S = 0.05
"""Allowance for the gap between the limiter's decision and the moment a test records it: after
a store call a thread may wait for the GIL behind the other workers and the suite's background
threads (15 ms was once exceeded in a CI run). A limiter one slot off still fails: its extra
grant lands well inside the 0.45 s that remain of a 0.5 s window."""


def busiest_window(times: list[float], window_s: float) -> int:
    """The most timestamps found in any window of ``window_s`` (less the recording slack)."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window_s - SLACK_S:
            start += 1
        best = max(best, end - start + 1)
    return best


def hammer(limiters: list[RateLimiter], seconds: float, threads_each: int = 2) -> list[float]:
    """Acquire as fast as possible from several threads per limiter; return when each got in."""
    taken: list[float] = []
    lock = threading.Lock()
    end = time.time() + seconds

    def worker(limiter: RateLimiter) -> None:
        while time.time() < end:
            limiter.acquire(ENDPOINT)
            with lock:
                taken.append(time.time())

    workers = [
        threading.Thread(target=worker, args=(limiter,))
        for limiter in limiters
        for _ in range(threads_each)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return taken


def test_memory_limiter_never_exceeds_n_in_any_window(token: str) -> None:
    limiter = RateLimiter(MemoryStore(), token=token, limit=5, window_s=0.5)
    taken = hammer([limiter], 1.2, threads_each=4)
    assert busiest_window(taken, 0.5) <= 5
    assert len(taken) >= 12  # three windows' worth were available: the limiter is not idle


async def test_async_acquisitions_respect_the_window(token: str) -> None:
    limiter = RateLimiter(MemoryStore(), token=token, limit=4, window_s=0.5)
    taken: list[float] = []
    end = time.time() + 1.2

    async def worker() -> None:
        while time.time() < end:
            await limiter.acquire_async(ENDPOINT)
            taken.append(time.time())

    await asyncio.gather(*(worker() for _ in range(5)))
    assert busiest_window(taken, 0.5) <= 4
    assert len(taken) >= 10


def test_two_processes_share_one_sqlite_budget(token: str, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'budget.sqlite'}"
    start_at = time.time() + 1.2  # both children have imported by then
    worker = Path(__file__).with_name("limiter_worker.py")
    children = [
        subprocess.Popen(
            [sys.executable, str(worker), uri, token, "6", "0.5", str(start_at), "1.2"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    per_process = [json.loads(child.communicate(timeout=30)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    taken = [moment for times in per_process for moment in times]
    assert busiest_window(taken, 0.5) <= 6
    assert len(taken) >= 12
    assert all(times for times in per_process)
    assert token.encode() not in (tmp_path / "budget.sqlite").read_bytes()


@pytest.fixture
def redis_keys(token: str) -> Iterator[None]:
    yield
    connection = redis.Redis.from_url(REDIS_URL)
    connection.delete(f"bria_dagster:{budget_key(token_fingerprint(token), ENDPOINT)}")
    connection.close()


def test_redis_budget_is_shared_by_separate_limiters(token: str, redis_keys: None) -> None:
    limiters = [RateLimiter(RedisStore(REDIS_URL), token=token, limit=5, window_s=0.5)]
    limiters.append(RateLimiter(open_store(REDIS_URL), token=token, limit=5, window_s=0.5))
    taken = hammer(limiters, 1.2)
    for limiter in limiters:
        limiter.close()
    assert busiest_window(taken, 0.5) <= 5
    assert len(taken) >= 10


@pytest.fixture
def postgres_tables(token: str) -> Iterator[None]:
    yield
    table = f"ratelimit___{budget_key(token_fingerprint(token), ENDPOINT)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP TABLE IF EXISTS "{table}"')


def test_postgres_budget_is_shared_by_separate_limiters(token: str, postgres_tables: None) -> None:
    limiters = [
        RateLimiter(PostgresStore(POSTGRES_URL), token=token, limit=5, window_s=0.5)
        for _ in range(2)
    ]
    taken = hammer(limiters, 1.2)
    for limiter in limiters:
        limiter.close()
    assert busiest_window(taken, 0.5) <= 5
    assert len(taken) >= 10


def test_retry_after_blocks_every_limiter_of_the_process(token: str) -> None:
    first = RateLimiter(MemoryStore(), token=token, limit=100, window_s=1.0)
    second = RateLimiter(MemoryStore(), token=token, limit=100, window_s=1.0)
    first.note_rate_limited(ENDPOINT, retry_after=0.3, sent_at=time.time())
    assert second.try_take(ENDPOINT) == pytest.approx(0.3, abs=0.05)
    assert second.acquire(ENDPOINT) >= 0.25
    assert first.try_take("/v2/status") == 0.0  # other budgets are not blocked


def test_a_429_halves_the_rate_for_everyone_of_the_budget(token: str) -> None:
    limiter = RateLimiter(MemoryStore(), token=token, limit=4, window_s=0.5)
    start = time.monotonic()
    for _ in range(4):
        limiter.acquire("/v2/a")
    assert time.monotonic() - start < 0.2  # four slots, no wait

    limiter.note_rate_limited(ENDPOINT, retry_after=None, sent_at=time.time())
    start = time.monotonic()
    for _ in range(4):
        limiter.acquire(ENDPOINT)
    assert time.monotonic() - start >= 0.45  # two calls per window now: the last two wait


def test_gate_aimd_rules() -> None:
    gate = Gate()
    assert gate.weight(now=100.0, window_s=60) == 1
    gate.note_rate_limited(now=100.0, retry_after=5.0, sent_at=99.0, window_s=60, limit=10)
    assert gate.blocked_until == 105.0
    assert gate.weight(now=100.0, window_s=60) == 2
    # a call sent before that penalty (already in flight) does not halve again
    gate.note_rate_limited(now=100.5, retry_after=None, sent_at=99.5, window_s=60, limit=10)
    assert gate.weight(now=100.5, window_s=60) == 2
    assert gate.blocked_until == 105.0
    # a call sent after it does
    gate.note_rate_limited(now=101.0, retry_after=None, sent_at=100.7, window_s=60, limit=10)
    assert gate.weight(now=101.0, window_s=60) == 4
    # one step back per quiet window, down to full rate
    assert [gate.weight(now=101.0 + 60 * k, window_s=60) for k in range(5)] == [4, 3, 2, 1, 1]
    for moment in range(200, 210):
        gate.note_rate_limited(now=moment, retry_after=None, sent_at=moment, window_s=60, limit=10)
    assert gate.weight(now=210, window_s=60) == 10  # never more slots than the limit


def test_budget_keys_hide_the_token_and_separate_endpoints(token: str) -> None:
    fingerprint = token_fingerprint(token)
    assert token not in fingerprint and len(fingerprint) == 16
    keys = {budget_key(fingerprint, path) for path in (ENDPOINT, "/v2/status", "/v1/x")}
    assert len(keys) == 3
    assert all(key.isidentifier() and len(key) < 48 for key in keys)
    assert token_fingerprint("another-token") != fingerprint


SHARED_STORES = {
    "sqlite": lambda tmp_path: f"sqlite:///{tmp_path / 'budget.sqlite'}",
    "redis": lambda tmp_path: REDIS_URL,
    "postgresql": lambda tmp_path: POSTGRES_URL,
}


@pytest.mark.parametrize("backend", sorted(SHARED_STORES))
def test_a_retry_after_blocks_every_process_sharing_the_store(
    backend: str, token: str, tmp_path: Path, emulator: EmulatorServer
) -> None:
    uri = SHARED_STORES[backend](tmp_path)
    envelope = {"error": {"code": 429, "message": "Request limit exceeded"}, "request_id": "x"}
    emulator.state.configure(
        faults=[answer_once("submits", 429, headers={"Retry-After": "3"}, body=envelope)]
    )
    settings = {**FAST, "rate_limit_backend": uri, "max_attempts": 1, "retry_max_delay_s": 10}
    with (
        BriaClient(api_token=token, base_url=emulator.base_url, **settings) as bria,
        pytest.raises(RateLimitError),
    ):
        bria.submit("image/generate", {"prompt": "x"})
    answered = time.time()
    worker = Path(__file__).with_name("limiter_worker.py")
    children = [
        subprocess.Popen(
            [sys.executable, str(worker), uri, token, "100", "60", str(answered), "0.01"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    per_process = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    # Each process's first slot came only once the 429's Retry-After had run out.
    firsts = [times[0] for times in per_process]
    assert all(first >= answered + 3 - 0.3 for first in firsts), (answered, firsts)
    assert all(first < answered + 8 for first in firsts)


def test_slots_are_held_a_send_margin_beyond_the_server_window(token: str) -> None:
    # A slot is stamped before its request leaves; the server counts the request when it
    # arrives, later. Were the slot freed exactly one window after its stamp, a burst sent then
    # could reach the server while it still counts the previous burst (the 429s seen with four
    # processes on one store). The client's window is longer by a margin.
    limiter = RateLimiter(MemoryStore(), token=token, limit=3, window_s=10.0)
    for _ in range(3):
        assert limiter.try_take(ENDPOINT) == 0.0
    wait = limiter.try_take(ENDPOINT)
    assert wait >= 10.0 + send_margin_s(10.0) - 0.5
    assert 0.2 <= send_margin_s(10.0) <= 1.0
    assert send_margin_s(60.0) == 2.0

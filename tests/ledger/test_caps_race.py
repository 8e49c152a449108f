"""Spend caps are counted atomically: two real processes racing for a cap's last slot (released
together by a barrier) send exactly one request between them, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import httpx

from bria_dagster.ledger import BudgetExceededError, Ledger, SpendCaps

from .ledger_support import Target

ROUNDS = 8
ENDPOINT = "/v2/image/generate"


def _racer(
    url: str, schema: str | None, base_url: str, name: str, barrier: Any, results: Any
) -> None:
    """One process: each round, reserve a row, wait for the other process, then try to take the
    round's last slot (the cap is the number of rounds so far) and POST when it is granted."""
    ledger = Ledger.from_url(url, schema=schema)
    try:
        for round_no in range(ROUNDS):
            args = ("photo", f"{name}-{round_no}", ENDPOINT, f"{round_no:02d}{name}".ljust(64, "0"))
            ledger.reserve(*args, {}, f"run-{name}")
            caps = SpendCaps(scope="race", per_day=round_no + 1)
            barrier.wait(timeout=30)
            try:
                entry = ledger.begin_submit(*args, {}, f"run-{name}", caps=caps)
            except BudgetExceededError:
                results.put((round_no, name, "refused"))
                continue
            response = httpx.post(
                base_url + ENDPOINT,
                json={"prompt": f"race {round_no}", "seed": 1},
                headers={"api_token": "race-token"},
            )
            ledger.mark_submitted(entry.id, response.json()["request_id"], None, 0.0)
            results.put((round_no, name, "sent"))
    finally:
        ledger.dispose()


def test_two_processes_racing_for_the_last_slot_send_exactly_one(
    target: Target, emulator: Any
) -> None:
    Ledger.from_url(target.url, schema=target.schema).dispose()  # create the tables once
    context = mp.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    racers = [
        context.Process(
            target=_racer,
            args=(target.url, target.schema, emulator.base_url, name, barrier, results),
        )
        for name in ("a", "b")
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    per_round: dict[int, list[str]] = {}
    for round_no, _name, what in outcomes:
        per_round.setdefault(round_no, []).append(what)
    assert {r: sorted(v) for r, v in per_round.items()} == {
        r: ["refused", "sent"] for r in range(ROUNDS)
    }
    assert emulator.stats().submits == {ENDPOINT: ROUNDS}
    ledger = Ledger.from_url(target.url, schema=target.schema)
    try:
        reserved = [entry for entry in ledger.list(limit=100) if entry.reserved]
        assert len(reserved) == ROUNDS, "a refused request must stay pending (reserved)"
        caps = SpendCaps(scope="race", per_day=ROUNDS)
        (use,) = ledger.scope_usage(caps)
        assert (use.used, use.left) == (ROUNDS, 0)
    finally:
        ledger.dispose()

"""A burst of concurrent deliveries: every one recorded, none kept waiting near Bria's 10 s timeout.

Prints the rate and latencies (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import httpx
import pytest

from bria_dagster.client.webhooks import sign_webhook
from bria_dagster.ledger import EntryState, Ledger, PendingRow
from bria_dagster.webhooks import WebhookServer, create_webhook_app

DELIVERIES = 400
CONCURRENCY = 16


@pytest.mark.slow
def test_burst_of_deliveries(ledger: Ledger, token: str) -> None:
    now = time.time()
    ledger.bulk_insert_pending(
        PendingRow(
            "load/asset",
            str(i),
            "image/generate",
            hashlib.sha256(f"load-{i}".encode()).hexdigest(),
            f"load-{i}",
            now,
            now + 3600,
        )
        for i in range(DELIVERIES)
    )
    latencies: list[float] = []

    async def burst(url: str) -> float:
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> None:
                body = json.dumps(
                    {
                        "request_id": f"load-{i}",
                        "status": "COMPLETED",
                        "result": {"image_url": f"https://files.example/{i}.png", "seed": i},
                    }
                ).encode()
                headers = sign_webhook(token, f"load-{i}", body)
                async with gate:
                    started = time.perf_counter()
                    answer = await client.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - started)
                assert answer.json()["outcome"] == "completed", answer.text

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(DELIVERIES)))
            return time.perf_counter() - started

    with WebhookServer(create_webhook_app(ledger, token)) as receiver:
        elapsed = asyncio.run(burst(receiver.webhook_url))

    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(
        f"\n{DELIVERIES} deliveries, {CONCURRENCY} at a time: {DELIVERIES / elapsed:.0f}/s, "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    assert ledger.counts()[EntryState.COMPLETED] == DELIVERIES
    assert latencies[-1] < 5.0  # Bria gives up on an answer after 10 s

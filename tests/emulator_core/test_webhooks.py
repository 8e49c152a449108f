"""Signed webhook deliveries, retried after a failing receiver."""

from __future__ import annotations

import json

import httpx

from bria_dagster.client.results import parse_status
from bria_dagster.client.webhooks import verify_webhook
from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, TOKEN, b64, png_bytes, receiver, wait_for


def test_delivery_is_signed_and_carries_the_status_body(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(latency={"edit": 0.2})
    with receiver() as hook, httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        submitted = client.post(
            EDIT_PATH, json={"image": b64(png_bytes()), "webhook_url": f"{hook.url}/bria"}
        ).json()
        delivery = hook.next_delivery()
        status_now = client.get(f"/v2/status/{submitted['request_id']}").json()

    assert delivery.path == "/bria"
    assert verify_webhook(TOKEN, delivery.headers, delivery.body) == submitted["request_id"]
    body = json.loads(delivery.body)
    assert body["status"] == "COMPLETED" and body["request_id"] == submitted["request_id"]
    assert set(body) == set(status_now)
    assert body["result"]["seed"] == status_now["result"]["seed"]
    assert parse_status(body).result is not None
    assert delivery.headers["Content-Type"] == "application/json"
    stats = emulator.stats().webhooks
    assert (stats.delivered, stats.failed_attempts, stats.retries) == (1, 0, 0)


def test_failed_job_is_delivered_too(emulator: EmulatorServer) -> None:
    with receiver() as hook:
        httpx.post(
            f"{emulator.base_url}{EDIT_PATH}",
            json={"image": "http://127.0.0.1:9/x.png", "webhook_url": hook.url},
            headers=AUTH,
        )
        body = json.loads(hook.next_delivery().body)
    assert body["status"] == "ERROR"
    assert body["error"]["code"] == 460


def test_failing_receiver_is_retried_then_given_up(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(webhook_retry_delays_s=(0.05, 0.05, 0.05))
    with receiver() as hook:
        hook.answers = [500, 503]
        httpx.post(
            f"{emulator.base_url}{EDIT_PATH}",
            json={"image": b64(png_bytes()), "webhook_url": hook.url},
            headers=AUTH,
        )
        attempts = [hook.next_delivery() for _ in range(3)]
        wait_for(lambda: emulator.stats().webhooks.delivered == 1)
        assert len({a.body for a in attempts}) == 1
        for attempt in attempts:
            verify_webhook(TOKEN, attempt.headers, attempt.body)

        hook.answers = [500, 500, 500, 500]
        httpx.post(
            f"{emulator.base_url}{EDIT_PATH}",
            json={"image": b64(png_bytes()), "webhook_url": hook.url},
            headers=AUTH,
        )
        wait_for(lambda: emulator.stats().webhooks.gave_up == 1)
    stats = emulator.stats().webhooks
    assert stats.failed_attempts == 2 + 4
    assert stats.retries == 2 + 3


def test_unreachable_receiver_counts_failures(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(webhook_retry_delays_s=(0.01,))
    httpx.post(
        f"{emulator.base_url}{EDIT_PATH}",
        json={"image": b64(png_bytes()), "webhook_url": "http://127.0.0.1:9/hook"},
        headers=AUTH,
    )
    wait_for(lambda: emulator.stats().webhooks.gave_up == 1)
    assert emulator.stats().webhooks.failed_attempts == 2

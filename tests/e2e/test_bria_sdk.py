"""Bria's own SDK (bria-client 0.3.1) against the emulator's real operations."""

from __future__ import annotations

import io

import httpx
from bria_client import BriaSyncClient
from bria_client.toolkit import Status, verify_webhook_signature
from PIL import Image

from bria_dagster.client.webhooks import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from bria_dagster.emulator import EmulatorServer
from tests.emulator_core.helpers import receiver


def test_sdk_run_and_submit_poll_produce_real_images(emulator: EmulatorServer, token: str) -> None:
    with BriaSyncClient(base_url=emulator.base_url, api_token=token) as sdk:
        made = sdk.run("image/generate", {"prompt": "a yellow lamp", "seed": 5})
        assert made.status == Status.COMPLETED and made.result is not None
        submitted = sdk.submit("image/edit/remove_background", {"image": made.result.image_url})
        final = sdk.poll(submitted, interval=0.05, timeout=10)
    assert final.status == Status.COMPLETED and final.result is not None
    cut = Image.open(io.BytesIO(httpx.get(final.result.image_url).content))
    assert cut.mode == "RGBA" and cut.getchannel("A").getextrema() == (0, 255)
    assert emulator.stats().submits == {
        "/v2/image/generate": 1,
        "/v2/image/edit/remove_background": 1,
    }


def test_sdk_verifies_the_emulators_webhooks(emulator: EmulatorServer, token: str) -> None:
    with receiver() as hook, BriaSyncClient(base_url=emulator.base_url, api_token=token) as sdk:
        submitted = sdk.submit(
            "image/generate", {"prompt": "a grey watch"}, webhook_url=f"{hook.url}/hook"
        )
        delivery = hook.next_delivery(timeout=10)
    assert delivery.headers[HEADER_ID] == submitted.request_id
    assert verify_webhook_signature(
        api_token=token,
        webhook_id=delivery.headers[HEADER_ID],
        timestamp=delivery.headers[HEADER_TIMESTAMP],
        signature_header=delivery.headers[HEADER_SIGNATURE],
        payload=delivery.body,
    )

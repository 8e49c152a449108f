"""Bria's own SDK (bria-client 0.3.1) against the emulator: run, submit/poll, webhooks, errors."""

from __future__ import annotations

import pytest
from bria_client import BriaAsyncClient, BriaSyncClient
from bria_client.toolkit import BriaException, Status, verify_webhook_signature

from bria_dagster.client.webhooks import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import EDIT_PATH, TOKEN, b64, png_bytes, receiver

ENDPOINT = EDIT_PATH.removeprefix("/v2/")  # the SDK's way of naming it


def test_sdk_run_answers_synchronously(emulator: EmulatorServer) -> None:
    with BriaSyncClient(base_url=emulator.base_url, api_token=TOKEN) as sdk:
        response = sdk.run(ENDPOINT, {"image": b64(png_bytes())}, raise_for_status=True)
    assert response.status == Status.COMPLETED
    assert response.result is not None
    assert response.result.image_url.startswith(f"{emulator.base_url}/files/")
    assert emulator.stats().submits == {EDIT_PATH: 1}


def test_sdk_submit_then_poll(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(latency={"edit": 0.3})
    with BriaSyncClient(base_url=emulator.base_url, api_token=TOKEN) as sdk:
        submitted = sdk.submit(ENDPOINT, {"image": b64(png_bytes())}, raise_for_status=True)
        assert submitted.status == Status.RUNNING
        assert submitted.status_url.endswith(submitted.request_id)
        final = sdk.poll(submitted, interval=0.1, timeout=10)
    assert final.status == Status.COMPLETED
    assert final.result is not None and final.result.image_url
    assert emulator.stats().status_polls[submitted.request_id] >= 2


def test_sdk_sees_errors_as_bria_errors(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(forbidden_token="revoked")
    with BriaSyncClient(base_url=emulator.base_url, api_token=TOKEN) as sdk:
        invalid = sdk.run(ENDPOINT, {"preserve_alpha": True})
        assert invalid.status == Status.FAILED
        assert invalid.error is not None and invalid.error.code == 400
        assert invalid.error.details.startswith("image:")
        with pytest.raises(BriaException):
            invalid.raise_for_status()
        failed = sdk.submit(ENDPOINT, {"image": "http://127.0.0.1:9/x.png"})
        with pytest.raises(BriaException) as raised:
            sdk.poll(failed, interval=0.05, timeout=10)
    assert raised.value.code == 460
    with BriaSyncClient(base_url=emulator.base_url, api_token="revoked") as revoked:
        denied = revoked.run(ENDPOINT, {"image": "x"})
    assert denied.error is not None and denied.error.code == 403


async def test_async_sdk_with_webhook(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(latency={"edit": 0.1})
    with receiver() as hook:
        async with BriaAsyncClient(base_url=emulator.base_url, api_token=TOKEN) as sdk:
            submitted = await sdk.submit(
                ENDPOINT, {"image": b64(png_bytes())}, webhook_url=hook.url, raise_for_status=True
            )
            final = await sdk.poll(submitted, interval=0.05, timeout=10)
        delivery = hook.next_delivery()
    assert final.status == Status.COMPLETED
    assert verify_webhook_signature(
        payload=delivery.body,
        webhook_id=delivery.headers[HEADER_ID],
        timestamp=delivery.headers[HEADER_TIMESTAMP],
        signature_header=delivery.headers[HEADER_SIGNATURE],
        api_token=TOKEN,
    )
    assert not verify_webhook_signature(
        delivery.body,
        delivery.headers[HEADER_ID],
        delivery.headers[HEADER_TIMESTAMP],
        delivery.headers[HEADER_SIGNATURE],
        "some-other-token",
    )
    assert delivery.headers[HEADER_ID] == submitted.request_id

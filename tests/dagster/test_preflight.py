"""What fails at once, before anything is paid for: bad input, partition keys that cannot be
stored, and wrong settings. Each fails in one attempt (no step retry) naming what to fix.

The steps run with a retry policy of four quick retries, so a retried failure would show as
``STEP_RESTARTED`` events; each test prints how long its step took to fail."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import bria_asset
from bria_dagster.client.types.editing import RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.ledger import Ledger
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from tests.storage.seaweedfs import S3Endpoint

FAST_RETRY = dg.RetryPolicy(max_retries=4, delay=0.1)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fails_once(
    assets: list[dg.AssetsDefinition],
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    step: str,
    partition: str | None = None,
) -> str:
    """Materialize; assert the step failed in one attempt; return its failure text."""
    started = time.monotonic()
    result = dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        partition_key=partition,
        raise_on_error=False,
        selection=[step],
    )
    elapsed = time.monotonic() - started
    assert not result.success
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert restarts == [], "must fail at once, not be retried"
    failure = result.failure_data_for_node(step)
    assert failure is not None
    user = failure.user_failure_data
    text = (user.description if user else None) or str(failure.error)
    print(f"\n{step}: failed in {elapsed:.2f} s: {text[:160]}")
    return text


# --- item 1: a partition key whose result could not be stored -------------------------------


@pytest.mark.parametrize("storage", ["file"], indirect=True)
@pytest.mark.parametrize("key", ["k" * 300, "鞋" * 30, "é" * 60], ids=["ascii", "cjk", "accent"])
def test_a_partition_key_too_long_to_store_fails_before_the_post(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any, key: str
) -> None:
    partitions = dg.StaticPartitionsDefinition([key])
    asset = bria_asset(
        "photo",
        lambda step: GenerateImageRequest(prompt="a mug", seed=1),
        partitions_def=partitions,
        retry_policy=FAST_RETRY,
    )
    text = _fails_once([asset], instance, resources, "photo", key)
    assert "partition_key" in text and "at most 255" in text
    assert emulator.stats().requests == {}, "nothing may be paid for"


# --- item 2: bad input from a request builder ------------------------------------------------


@pytest.mark.parametrize("storage", ["file"], indirect=True)
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"aspect_ratio": "7:3"}, "aspect_ratio"),
        ({"seed": -1}, "seed"),
        ({"prompt": ""}, "prompt"),
        ({"num_results": 1000}, "num_results"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_an_invalid_request_from_a_builder_fails_at_once_naming_field_and_partition(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    emulator: Any,
    fields: dict[str, Any],
    field: str,
) -> None:
    partitions = dg.StaticPartitionsDefinition(["sku-1"])
    asset = bria_asset(
        "photo",
        lambda _step: GenerateImageRequest(**{"prompt": "a mug", **fields}),
        partitions_def=partitions,
        retry_policy=FAST_RETRY,
    )
    text = _fails_once([asset], instance, resources, "photo", "sku-1")
    assert "[sku-1]" in text and "bad request" in text and field in text
    assert "ValidationError" not in text
    assert emulator.stats().requests == {}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_empty_upstream_image_fails_at_once_naming_field_and_partition(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    emulator: Any,
    tmp_path: Path,
) -> None:
    partitions = dg.StaticPartitionsDefinition(["sku-1"])
    photo = bria_asset(
        "photo", GenerateImageRequest(prompt="a mug", seed=2), partitions_def=partitions
    )
    cutout = bria_asset(
        "cutout",
        lambda step: RemoveBackgroundRequest(image=step.image.data),
        upstream=photo,
        partitions_def=partitions,
        retry_policy=FAST_RETRY,
    )
    made = dg.materialize([photo], instance=instance, resources=resources, partition_key="sku-1")
    assert made.success
    (stored,) = [p for p in (tmp_path / "images").rglob("*.png")]
    stored.write_bytes(b"")  # the upstream object is now zero bytes
    emulator.state.reset()
    text = _fails_once([photo, cutout], instance, resources, "cutout", "sku-1")
    assert "[sku-1]" in text and "image" in text and "empty" in text
    assert emulator.stats().requests == {}


# --- item 8: configuration errors ------------------------------------------------------------


def _photo() -> dg.AssetsDefinition:
    return bria_asset(
        "photo", GenerateImageRequest(prompt="a mug", seed=3), retry_policy=FAST_RETRY
    )


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_missing_token_fails_at_once(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BRIA_API_TOKEN")
    bria = BriaResource(**{**bria_fields, "api_token": None})
    text = _fails_once([_photo()], instance, {**resources, "bria": bria}, "photo")
    assert "api_token" in text and "BRIA_API_TOKEN" in text


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_base_url_without_scheme_fails_at_once(
    instance: dg.DagsterInstance, resources: dict[str, Any], bria_fields: dict[str, Any]
) -> None:
    bria = BriaResource(**{**bria_fields, "base_url": "127.0.0.1:8833"})
    text = _fails_once([_photo()], instance, {**resources, "bria": bria}, "photo")
    assert "base_url" in text and "BRIA_BASE_URL" in text


class _NotBria(http.server.BaseHTTPRequestHandler):
    """A web server that is not Bria's engine: every POST gets 405, like a static site."""

    def do_POST(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def not_bria() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotBria)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_url_that_is_not_brias_fails_at_once_naming_base_url(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    not_bria: str,
) -> None:
    bria = BriaResource(**{**bria_fields, "base_url": not_bria})
    text = _fails_once([_photo()], instance, {**resources, "bria": bria}, "photo")
    assert "405" in text and "base_url" in text and "BRIA_BASE_URL" in text


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_wrong_s3_secret_fails_at_once_before_any_request(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    seaweedfs: S3Endpoint,
    emulator: Any,
) -> None:
    storage = BriaStorageResource(
        uri=f"s3://{seaweedfs.bucket}/run-{uuid.uuid4().hex[:8]}",
        endpoint_url=seaweedfs.endpoint_url,
        access_key_id=seaweedfs.key,
        secret_access_key="not-the-secret",
        region=seaweedfs.region,
    )
    text = _fails_once([_photo()], instance, {**resources, "bria_storage": storage}, "photo")
    assert "BriaStorageResource" in text and "secret_access_key" in text
    assert "not-the-secret" not in text
    assert emulator.stats().requests == {}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_unreachable_ledger_database_fails_at_once(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    ledger = BriaLedgerResource(url=url)
    text = _fails_once([_photo()], instance, {**resources, "bria_ledger": ledger}, "photo")
    assert "BriaLedgerResource.url" in text and "BRIA_LEDGER_URL" in text
    assert emulator.stats().requests == {}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_unreachable_rate_limit_store_fails_at_once_and_leaves_no_row(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    ledger_resource: BriaLedgerResource,
    emulator: Any,
) -> None:
    backend = f"redis://127.0.0.1:{closed_port()}/0"
    bria = BriaResource(**{**bria_fields, "rate_limit_backend": backend})
    text = _fails_once([_photo()], instance, {**resources, "bria": bria}, "photo")
    assert "rate_limit_backend" in text
    assert emulator.stats().requests == {}
    ledger = Ledger.from_url(ledger_resource.resolved_url())
    try:
        assert ledger.list() == []
    finally:
        ledger.dispose()

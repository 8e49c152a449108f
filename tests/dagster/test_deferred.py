"""Deferred mode end to end with a real instance: submit, sensor ticks, materializations."""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import BriaImage
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.ledger import EntryState
from bria_dagster.resources import BriaResource
from bria_dagster.webhooks.app import create_webhook_app
from bria_dagster.webhooks.server import WebhookServer
from tests.dagster.deferred_graph import build_deferred, tick
from tests.dagster.graph import SKUS, products
from tests.dagster.test_inline_graph import _latest, _records
from tests.webhooks.support import emulator_stats_after_deliveries


def _run_ticks(sensor: Any, instance: Any, resources: Any, *, until: Any, limit_s: float = 30):
    cursor, results = None, []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        result = tick(sensor, instance, resources, cursor)
        results.append(result)
        cursor = result.cursor
        if until(results):
            return results, cursor
        time.sleep(0.2)
    raise AssertionError(f"sensor did not finish: {[r.skip_reason for r in results][-3:]}")


def _materialized(results: list[dg.SensorResult]) -> list[dg.AssetMaterialization]:
    return [
        e for r in results for e in (r.asset_events or []) if isinstance(e, dg.AssetMaterialization)
    ]


@pytest.mark.parametrize("ledger_resource", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("storage", ["file", "s3"], indirect=True)
def test_deferred_step_is_materialized_by_the_sensor(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, cutout, sensor = build_deferred()
    for sku in SKUS:
        submitted = dg.materialize(
            [photo.submit], instance=instance, resources=resources, partition_key=sku
        )
        assert submitted.success
        (m,) = submitted.asset_materializations_for_node(photo.submit.key.path[-1])
        assert m.metadata["bria/submitted"].value == 1
    assert emulator.stats().submits == {"/v2/image/generate": len(SKUS)}

    results, cursor = _run_ticks(
        sensor, instance, resources, until=lambda rs: len(_materialized(rs)) == len(SKUS)
    )
    reported = _materialized(results)
    assert sorted(m.partition or "" for m in reported) == sorted(SKUS)
    store = resources["bria_storage"].get_store()
    for sku in SKUS:
        (record,) = _records(_latest(instance, "product_photo", sku))
        assert record.endpoint == "/v2/image/generate" and record.seed == 42
        assert store.exists(record.key) and record.key.startswith(f"product_photo/{sku}/")
        assert record.expected == {"aspect_ratio": "4:3"}
    checks = [
        e for r in results for e in (r.asset_events or []) if isinstance(e, dg.AssetCheckEvaluation)
    ]
    # Only the checks that apply to a generation asking for 4:3 (no alpha check), evaluated
    # once per check and tick over the images the tick reports: one event per check, not per
    # check and image, and every image checked.
    reporting_ticks = [r for r in results if _materialized([r])]
    assert sorted(c.check_name for c in checks) == sorted(
        ["image_dimensions", "image_readable"] * len(reporting_ticks)
    )
    for name in ("image_dimensions", "image_readable"):
        assert sum(c.metadata["checked"].value for c in checks if c.check_name == name) == len(SKUS)
    assert all(c.passed for c in checks)
    # The sensor asks for the downstream step once per partition that landed.
    runs = [rr for r in results for rr in (r.run_requests or [])]
    assert sorted(rr.partition_key or "" for rr in runs) == sorted(SKUS)
    assert all(rr.asset_selection == [cutout.key] for rr in runs)

    # More ticks report nothing again (exactly once), and the ledger agrees.
    for _ in range(2):
        again = tick(sensor, instance, resources, cursor)
        cursor = again.cursor
        assert not _materialized([again])
    ledger = resources["bria_ledger"].get_ledger()
    entries = ledger.list(asset_key="product_photo")
    assert len(entries) == len(SKUS)
    assert all(e.state is EntryState.STORED and e.reported for e in entries)

    # The downstream inline step takes the deferred step's images as input.
    done = dg.materialize([cutout], instance=instance, resources=resources, partition_key=SKUS[0])
    assert done.success
    assert emulator.stats().submits == {
        "/v2/image/generate": len(SKUS),
        "/v2/image/edit/remove_background": 1,
    }

    # A plain asset loads the deferred result's images through the IO manager.
    loaded: list[BriaImage] = []

    @dg.asset(partitions_def=products)
    def photo_bytes(product_photo: list[BriaImage]) -> None:
        loaded.extend(product_photo)

    plain = dg.materialize(
        [photo.result, photo_bytes], instance=instance, resources=resources, partition_key=SKUS[1]
    )
    assert plain.success
    (image,) = loaded
    assert image.partition_key == SKUS[1] and image.record.endpoint == "/v2/image/generate"
    assert image.read_bytes() == store.read_bytes(image.record.key)
    assert image.open_image().size == (image.width, image.height)


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_failed_job_is_reported_and_resubmitted_by_its_submit_step(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, _cutout, sensor = build_deferred()
    emulator.state.configure(faults=[FaultRule(kind="job_error", on="submits", count=1)])
    assert dg.materialize(
        [photo.submit], instance=instance, resources=resources, partition_key=SKUS[0]
    )
    results, _cursor = _run_ticks(
        sensor, instance, resources, until=lambda rs: any(r.run_requests for r in rs)
    )
    observations = [
        e for r in results for e in (r.asset_events or []) if isinstance(e, dg.AssetObservation)
    ]
    assert observations and observations[0].metadata["bria/failed"].value is True
    assert observations[0].metadata["bria/error"].value
    (retry,) = [rr for r in results for rr in (r.run_requests or [])]
    assert retry.asset_selection == [photo.submit.key] and retry.partition_key == SKUS[0]

    # Running the submit step again re-arms the failed row: one new (paid) job, then stored.
    assert dg.materialize(
        [photo.submit], instance=instance, resources=resources, partition_key=SKUS[0]
    )
    assert emulator.stats().submits == {"/v2/image/generate": 2}
    _run_ticks(sensor, instance, resources, until=lambda rs: bool(_materialized(rs)))
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="product_photo")
    assert entry.state is EntryState.STORED and entry.attempts == 2


@pytest.mark.parametrize("ledger_resource", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_with_webhooks_a_batch_completes_with_zero_status_polls(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    api_token: str,
    emulator: Any,
) -> None:
    ledger = resources["bria_ledger"].get_ledger()
    app = create_webhook_app(ledger, api_token)
    with WebhookServer(app) as receiver:
        bria = BriaResource(**{**bria_fields, "webhook_url": receiver.webhook_url})
        resources = {**resources, "bria": bria}
        photo, _cutout, sensor = build_deferred()
        for sku in SKUS:
            assert dg.materialize(
                [photo.submit], instance=instance, resources=resources, partition_key=sku
            )
        deadline = time.monotonic() + 20
        while ledger.counts()[EntryState.COMPLETED] < len(SKUS):
            assert time.monotonic() < deadline, ledger.counts()
            time.sleep(0.1)
        results, _ = _run_ticks(
            sensor, instance, resources, until=lambda rs: len(_materialized(rs)) == len(SKUS)
        )
    stats = emulator_stats_after_deliveries(emulator, len(SKUS))
    assert stats.status_polls_total == 0
    assert stats.webhooks.delivered == len(SKUS)
    assert stats.submits == {"/v2/image/generate": len(SKUS)}
    assert sorted(m.partition or "" for m in _materialized(results)) == sorted(SKUS)


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_failure_delivered_by_webhook_is_resubmitted(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    api_token: str,
    emulator: Any,
) -> None:
    ledger = resources["bria_ledger"].get_ledger()
    emulator.state.configure(faults=[FaultRule(kind="job_error", on="submits", count=1)])
    with WebhookServer(create_webhook_app(ledger, api_token)) as receiver:
        bria = BriaResource(**{**bria_fields, "webhook_url": receiver.webhook_url})
        resources = {**resources, "bria": bria}
        photo, _cutout, sensor = build_deferred()
        assert dg.materialize(
            [photo.submit], instance=instance, resources=resources, partition_key=SKUS[0]
        )
        deadline = time.monotonic() + 20
        while ledger.counts()[EntryState.FAILED] < 1:
            assert time.monotonic() < deadline, ledger.counts()
            time.sleep(0.1)
        result = tick(sensor, instance, resources, None)
    (retry,) = result.run_requests or []
    assert retry.asset_selection == [photo.submit.key] and retry.partition_key == SKUS[0]
    assert emulator.stats().status_polls_total == 0


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_tick_that_lost_its_cursor_reports_only_what_dagster_does_not_have(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    photo, _cutout, sensor = build_deferred()
    for sku in SKUS:
        assert dg.materialize(
            [photo.submit], instance=instance, resources=resources, partition_key=sku
        ).success
    ledger = resources["bria_ledger"].get_ledger()
    request_of = {e.partition_key: e.request_id for e in ledger.list(asset_key="product_photo")}
    # As Dagster would hold them: SKUS[1] already reported by a tick whose cursor was lost,
    # SKUS[0] materialized before by another request (an older generation).
    kept, older = SKUS[1], SKUS[0]
    for sku, request_id in ((kept, request_of[kept]), (older, "an-older-request")):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "product_photo", partition=sku, metadata={"bria/request_id": request_id}
            )
        )

    results, cursor = _run_ticks(
        sensor, instance, resources, until=lambda rs: len(_materialized(rs)) == len(SKUS) - 1
    )
    reported = _materialized(results)
    assert sorted(m.partition or "" for m in reported) == sorted(set(SKUS) - {kept})
    assert all(m.metadata["bria/request_id"].value == request_of[m.partition] for m in reported)
    # Each carries the preview made from the one decode of its image.
    assert all("(data:image/jpeg;base64," in str(m.metadata["preview"].value) for m in reported)
    tick(sensor, instance, resources, cursor)
    assert all(e.reported for e in ledger.list(asset_key="product_photo"))
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=photo.key, asset_partitions=[kept]), limit=5
    ).records
    assert len(latest) == 1  # the kept partition was not reported a second time

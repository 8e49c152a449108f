"""Deferred steps with declarative automation, run tags and cost metadata, and a run that
selects the result asset (a real instance, the emulator, the sensor ticked as the daemon does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.tags import BACKFILL_ID_TAG

from bria_dagster.assets import bria_asset
from bria_dagster.assets.deferred import DeferredBriaAsset, bria_deferred_asset
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types.editing import RemoveBackgroundRequest
from bria_dagster.resources import BriaResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor, run_tick
from tests.dagster.graph import SKUS, product_prompt, products


def _photo(**options: Any) -> DeferredBriaAsset:
    return bria_deferred_asset(
        "product_photo", product_prompt, partitions_def=products, retry_policy=None, **options
    )


def _cutout(photo: DeferredBriaAsset, **options: Any) -> dg.AssetsDefinition:
    return bria_asset(
        "cutout",
        lambda step: RemoveBackgroundRequest(image=step.image.data),
        upstream=photo,
        partitions_def=products,
        retry_policy=None,
        **options,
    )


def _tick_until(
    sensor: dg.SensorDefinition,
    assets: Sequence[Any],
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    done: Any,
    limit_s: float = 30.0,
) -> list[Any]:
    """Tick until ``done(ticks)``; the ticks' execution data."""
    defs = dg.Definitions(assets=list(assets), sensors=[sensor], resources=resources)
    cursor, ticks = None, []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        data = run_tick(
            sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
        )
        ticks.append(data)
        cursor = data.cursor
        if done(ticks):
            return ticks
        time.sleep(0.2)
    raise AssertionError(f"sensor did not finish: {[t.skip_message for t in ticks[-3:]]}")


def _reported(ticks: Sequence[Any]) -> list[dg.AssetMaterialization]:
    return [
        e for t in ticks for e in (t.asset_events or []) if isinstance(e, dg.AssetMaterialization)
    ]


def _submit(photo: DeferredBriaAsset, instance: Any, resources: Any, sku: str, **tags: str) -> Any:
    done = dg.materialize(
        [photo.submit], instance=instance, resources=resources, partition_key=sku, tags=tags
    )
    assert done.success
    (event,) = done.asset_materializations_for_node(photo.submit.key.path[-1])
    return event


def test_eager_step_after_a_deferred_one_runs_once_per_partition(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    on_missing = dg.AutomationCondition.on_missing()
    photo = _photo(automation_condition=on_missing)
    # The condition is the submit asset's; the result lands when Bria finishes.
    assert photo.submit.automation_conditions_by_key[photo.submit.key] == on_missing
    assert photo.result.automation_conditions_by_key.get(photo.key) is None
    cutout = _cutout(photo, automation_condition=dg.AutomationCondition.eager())
    assets = [*photo, cutout]
    with pytest.raises(BriaInputError) as refused:
        build_bria_result_sensor([photo], downstream=[cutout])
    assert refused.value.field == "downstream" and "automation_condition" in str(refused.value)
    sensor = build_bria_result_sensor([photo], limits=TickLimits(budget_s=10.0))

    for sku in SKUS:
        _submit(photo, instance, resources, sku)
    selection = dg.AssetSelection.assets(cutout)
    defs = dg.Definitions(assets=assets, resources=resources)
    before = dg.evaluate_automation_conditions(defs, instance, asset_selection=selection)
    assert before.get_requested_partitions(cutout.key) == set()  # no photo yet

    _tick_until(
        sensor, assets, instance, resources, lambda ticks: len(_reported(ticks)) == len(SKUS)
    )
    first = dg.evaluate_automation_conditions(
        defs, instance, asset_selection=selection, cursor=before.cursor
    )
    assert first.get_requested_partitions(cutout.key) == set(SKUS)
    assert first.total_requested == len(SKUS)
    second = dg.evaluate_automation_conditions(
        defs, instance, asset_selection=selection, cursor=first.cursor
    )
    assert second.total_requested == 0


def test_sensor_runs_carry_tags_and_priority_and_every_event_its_cost(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo = _photo()
    cutout = _cutout(photo)
    sensor = build_bria_result_sensor(
        [photo],
        downstream=[cutout],
        limits=TickLimits(budget_s=10.0),
        run_tags={"team": "catalog"},
        run_priority=3,
    )
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    sku = SKUS[0]
    # Submitted by a run of a backfill that does not target the result (here: no such
    # backfill): the sensor reports the result, and tags the downstream run with the backfill.
    submitted = _submit(photo, instance, resources, sku, **{BACKFILL_ID_TAG: "bf-1"})
    assert submitted.metadata["bria/billed_jobs"].value == 1
    assert submitted.metadata["bria/api_calls"].value >= 1
    assert submitted.metadata["bria/rate_limited"].value == 0
    assert submitted.metadata["bria/usage"].value["billed_jobs"] == 1

    ticks = _tick_until(
        sensor, [*photo, cutout], instance, resources, lambda ticks: len(_reported(ticks)) == 1
    )
    (event,) = _reported(ticks)
    entry = resources["bria_ledger"].get_ledger().list(asset_key="product_photo")[0]
    assert event.metadata["bria/billed_jobs"].value == 1
    assert event.metadata["bria/status_polls"].value == entry.poll_count >= 1
    assert event.metadata["bria/api_calls"].value == 1 + entry.poll_count
    (request,) = [r for t in ticks for r in (t.run_requests or [])]
    assert request.tags["team"] == "catalog"
    assert request.tags["dagster/priority"] == "3"
    assert request.tags["bria/after"] == "product_photo"
    assert request.tags["bria/backfill"] == "bf-1" and BACKFILL_ID_TAG not in request.tags

    done = dg.materialize([cutout], instance=instance, resources=resources, partition_key=sku)
    assert done.success
    (inline,) = done.asset_materializations_for_node("cutout")
    assert inline.metadata["bria/billed_jobs"].value == 1
    assert inline.metadata["bria/status_polls"].value >= 1
    assert emulator.stats().submits == {
        "/v2/image/generate": 1,
        "/v2/image/edit/remove_background": 1,
    }


def test_a_run_selecting_the_result_waits_for_the_sensor_and_materializes_it_once(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    photo = _photo()
    sensor = build_bria_result_sensor([photo], limits=TickLimits(budget_s=5.0))
    sku = SKUS[1]
    ticks: list[Any] = []
    stop = threading.Event()

    def tick_in_background() -> None:
        defs = dg.Definitions(assets=list(photo), sensors=[sensor], resources=resources)
        cursor = None
        while not stop.is_set():
            data = run_tick(
                sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
            )
            ticks.append(data)
            cursor = data.cursor
            time.sleep(0.3)

    ticker = threading.Thread(target=tick_in_background)
    ticker.start()
    try:
        done = dg.materialize(
            [photo.submit, photo.result], instance=instance, resources=resources, partition_key=sku
        )
    finally:
        stop.set()
        ticker.join(timeout=30)
    assert done.success
    assert not _reported(ticks)  # the sensor stored the result and left it to the run
    records = instance.fetch_materializations(photo.key, limit=10).records
    assert [(r.run_id, r.partition_key) for r in records] == [(done.run_id, sku)]
    (event,) = done.asset_materializations_for_node(photo.key.path[-1])
    assert event.metadata["bria/billed_jobs"].value == 1
    checks = done.get_asset_check_evaluations()
    assert sorted(c.check_name for c in checks) == ["image_dimensions", "image_readable"]
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="product_photo")
    assert entry.reported


def _failure(assets: list[Any], instance: Any, resources: Any, sku: str) -> str:
    """The step failure message of a run of ``assets`` that must fail."""
    done = dg.materialize(
        assets, instance=instance, resources=resources, partition_key=sku, raise_on_error=False
    )
    assert not done.success
    (failure,) = [e for e in done.all_events if e.is_step_failure]
    return str(failure.step_failure_data.error.message)


def test_a_result_run_without_a_submitted_request_fails_at_once(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    photo = _photo()
    message = _failure([photo.result], instance, resources, SKUS[2])
    assert "no request was submitted" in message and "product_photo_requests" in message


def test_a_result_run_fails_when_nothing_collects_its_result(
    instance: dg.DagsterInstance, resources: dict[str, Any], bria_fields: dict[str, Any]
) -> None:
    """No sensor runs: the request stays pending, and the run gives up after
    ``wait_timeout_s`` without a change, saying what to look at."""
    resources = {**resources, "bria": BriaResource(**{**bria_fields, "wait_timeout_s": 1.0})}
    photo = _photo()
    message = _failure([photo.submit, photo.result], instance, resources, SKUS[0])
    assert "unchanged for 1 s" in message and "result sensor" in message
    assert not instance.fetch_materializations(photo.key, limit=1).records

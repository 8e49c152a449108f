"""A deferred generation step, an inline cut-out after it, and the result sensor."""

from __future__ import annotations

from typing import Any

import dagster as dg

from bria_dagster.assets import bria_asset
from bria_dagster.assets.deferred import DeferredBriaAsset, bria_deferred_asset
from bria_dagster.client.types.editing import RemoveBackgroundRequest
from bria_dagster.sensors import TickLimits, build_bria_result_sensor, run_tick
from tests.dagster.graph import product_prompt, products


def build_deferred(
    limits: TickLimits | None = None, backfill_policy: dg.BackfillPolicy | None = None
) -> tuple[DeferredBriaAsset, Any, Any]:
    photo = bria_deferred_asset(
        "product_photo",
        product_prompt,
        partitions_def=products,
        retry_policy=None,
        backfill_policy=backfill_policy,
    )
    cutout = bria_asset(
        "cutout",
        lambda step: RemoveBackgroundRequest(image=step.image.data),
        upstream=photo,
        partitions_def=products,
        retry_policy=None,
        backfill_policy=backfill_policy,
    )
    sensor = build_bria_result_sensor(
        [photo], downstream=[cutout], limits=limits or TickLimits(budget_s=10.0)
    )
    ASSETS[sensor.name] = [*photo, cutout]
    return photo, cutout, sensor


ASSETS: dict[str, list[Any]] = {}
"""The assets each test sensor works on (the definitions its ticks are evaluated with)."""


def tick(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    cursor: str | None,
) -> dg.SensorResult:
    """Evaluate one tick and persist its events as the daemon would."""
    defs = dg.Definitions(assets=ASSETS[sensor.name], sensors=[sensor], resources=resources)
    data = run_tick(sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor)
    return dg.SensorResult(
        run_requests=data.run_requests,
        asset_events=data.asset_events,
        cursor=data.cursor,
        skip_reason=data.skip_message,
    )

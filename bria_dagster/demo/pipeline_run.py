"""Driving the demo pipeline of ``definitions.py`` in one process, as Dagster's daemon would."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

import dagster as dg

from bria_dagster.demo import brand
from bria_dagster.demo.brand_run import brand_wanted, finish_brand, start_brand
from bria_dagster.demo.target import describe_target
from bria_dagster.resources import BriaLedgerResource, BriaResource
from bria_dagster.results.records import METADATA_IMAGES
from bria_dagster.sensors import run_tick

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Run config that keeps Dagster's per-event debug log off the demo's console."""

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class DemoSummary:
    """What the demo made."""

    storage_uri: str
    images: dict[str, int] = field(default_factory=dict)
    """Stored images per asset."""
    checks_failed: list[str] = field(default_factory=list)
    ok: bool = False
    spend: str = ""
    """The daily spend cap and how much of it is used."""


def _range_tags(skus: Sequence[str]) -> dict[str, str]:
    return {RANGE_START: skus[0], RANGE_END: skus[-1]}


def run_demo(module: ModuleType, *, limit: int | None, timeout_s: float) -> DemoSummary:
    """Submit the deferred photos, collect them with the sensor, run the rest of the chain."""
    defs: dg.Definitions = module.defs
    resources = dict(defs.resources or {})
    deferred = module.product_photo
    chain = [module.cutout, module.packshot, module.lifestyle_shot, module.ad_formats, module.ad]
    all_assets = [*deferred, *chain]
    skus = list(module.PRODUCTS)[:limit] if limit else list(module.PRODUCTS)
    instance = dg.DagsterInstance.get()
    store = resources["bria_storage"].get_store()
    summary = DemoSummary(storage_uri=store.uri)
    print(f"Using {describe_target()}")
    print(f"Storing images in {store.uri}")
    print(f"{len(skus)} SKUs: {', '.join(skus)}\n")

    started = time.monotonic()
    submitted = dg.materialize(
        all_assets,
        selection=[deferred.submit.key],
        instance=instance,
        resources=resources,
        tags=_range_tags(skus),
        run_config=QUIET,
    )
    print(f"  submitted product photos ({time.monotonic() - started:.1f} s)")
    tailored = brand_wanted()
    # Trains while the catalog runs.
    brand_started = start_brand(instance, resources, QUIET) if tailored else True
    print("  collecting product photos:")
    _collect(module.bria_results, defs, instance, resources, set(skus), timeout_s)

    started = time.monotonic()
    result = dg.materialize(
        all_assets,
        selection=[asset.key for asset in chain],
        instance=instance,
        resources=resources,
        tags=_range_tags(skus),
        run_config=QUIET,
    )
    steps = ", ".join(a.key.to_user_string() for a in chain)
    print(f"  ran {steps} ({time.monotonic() - started:.1f} s)")
    brand_done = brand_started and (
        not tailored or finish_brand(defs, instance, resources, QUIET, timeout_s)
    )
    summary.checks_failed = _failed_checks(result)
    for key in [deferred.key, *(asset.key for asset in chain)]:
        summary.images[key.to_user_string()] = _count_images(instance, key, skus)
    for key in [brand.brand_images.key, brand.campaign_visual.key] if tailored else []:
        summary.images[key.to_user_string()] = _count_images(instance, key, [None])
    video_ok = _run_video(getattr(module, "VIDEO_ASSETS", []), instance, resources, summary)
    print("\n  step            images")
    for name, count in summary.images.items():
        print(f"  {name:<15} {count}")
    if summary.checks_failed:
        print(f"  failed checks: {', '.join(summary.checks_failed)}")
    summary.spend = _spend_line(resources)
    summary.ok = (
        submitted.success
        and result.success
        and brand_done
        and video_ok
        and not summary.checks_failed
    )
    return summary


def _failed_checks(result: dg.ExecuteInJobResult) -> list[str]:
    return [
        f"{c.asset_key.to_user_string()}.{c.check_name}"
        for c in result.get_asset_check_evaluations()
        if not c.passed
    ]


def _run_video(
    assets: Sequence[dg.AssetsDefinition],
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    summary: DemoSummary,
) -> bool:
    """The unpartitioned video branch (``bria_dagster/demo/video.py``), in one run."""
    if not assets:
        return True
    started = time.monotonic()
    result = dg.materialize(assets, instance=instance, resources=resources, run_config=QUIET)
    steps = ", ".join(a.key.to_user_string() for a in assets)
    print(f"  ran {steps} ({time.monotonic() - started:.1f} s)")
    summary.checks_failed += _failed_checks(result)
    for asset in assets:
        found = instance.fetch_materializations(asset.key, limit=1).records
        event = found[0].asset_materialization if found else None
        value = event.metadata.get(METADATA_IMAGES) if event is not None else None
        items = value.value if value is not None else None
        summary.images[asset.key.to_user_string()] = len(items) if isinstance(items, list) else 0
    return result.success


def _spend_line(resources: dict[str, object]) -> str:
    """``N of the daily cap of M billed requests used (BriaResource.max_requests_per_day)``."""
    bria, ledger_resource = resources["bria"], resources["bria_ledger"]
    assert isinstance(bria, BriaResource) and isinstance(ledger_resource, BriaLedgerResource)
    ledger = ledger_resource.get_ledger()
    try:
        uses = ledger.scope_usage(bria.spend_caps())
    finally:
        ledger.dispose()
    if not uses:
        return "no daily spend cap (BriaResource.max_requests_per_day)"
    (use,) = uses
    return (
        f"{use.used} of the daily cap of {use.cap.limit} billed requests used in the last "
        f"24 h ({use.cap.setting}; `bria-ledger spend` for details)"
    )


def _collect(
    sensor: dg.SensorDefinition,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    expected: set[str],
    timeout_s: float,
) -> None:
    cursor: str | None = None
    landed: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        data = run_tick(
            sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
        )
        landed.update(
            event.partition
            for event in data.asset_events or []
            if isinstance(event, dg.AssetMaterialization) and event.partition
        )
        cursor = data.cursor
        if landed >= expected:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout_s:.0f} s: {sorted(expected - landed)}")
        time.sleep(1.0)
    # One more tick commits the cursor: the ledger then flags the reported rows.
    run_tick(sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor)
    print(f"  {len(landed)} product photos landed")


def _count_images(
    instance: dg.DagsterInstance, key: dg.AssetKey, skus: Sequence[str | None]
) -> int:
    """Stored images of the latest materialization of each partition (None: unpartitioned)."""
    count = 0
    for sku in skus:
        partitions = [sku] if sku is not None else None
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=1
        ).records
        if records and records[0].asset_materialization is not None:
            value = records[0].asset_materialization.metadata.get(METADATA_IMAGES)
            items = value.value if value is not None else None
            if isinstance(items, list):
                count += sum(
                    1
                    for item in items
                    if isinstance(item, dict) and item.get("partition_key") == sku
                )
    return count

"""Driving the demo's tailored half (``bria_dagster/demo/brand.py``) as Dagster's daemon would.

:func:`start_brand` generates the brand images and starts the style model's training; the
catalog half runs meanwhile; :func:`finish_brand` ticks the brand sensor until the model is
trained, then generates the campaign visual with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import dagster as dg

from bria_dagster.demo import brand
from bria_dagster.sensors import run_tick

RunConfig = Mapping[str, Any]
TAILORED_ENV = "BRIA_DEMO_TAILORED"


def brand_wanted() -> bool:
    """Whether the demo trains the brand model: always on an emulator; against Bria (a token
    set) only with ``BRIA_DEMO_TAILORED=1``, as a real training is long and billed."""
    return not os.environ.get("BRIA_API_TOKEN") or os.environ.get(TAILORED_ENV) == "1"


def start_brand(
    instance: dg.DagsterInstance, resources: dict[str, object], run_config: RunConfig
) -> bool:
    """Generate the brand images and start training (the training run ends at once)."""
    started = time.monotonic()
    result = dg.materialize(
        brand.BRAND_ASSETS,
        selection=[brand.brand_images.key, brand.brand_style_model.training.key],
        instance=instance,
        resources=resources,
        run_config=run_config,
    )
    print(f"  generated brand images, started training ({time.monotonic() - started:.1f} s)")
    return result.success


def finish_brand(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    run_config: RunConfig,
    timeout_s: float,
) -> bool:
    """Tick the brand sensor until the model is trained, then make the campaign visual."""
    started = time.monotonic()
    cursor: str | None = None
    trained = False
    deadline = started + timeout_s
    while not trained:
        data = run_tick(
            brand.brand_results,
            instance=instance,
            definitions=defs,
            resources=resources,
            cursor=cursor,
        )
        cursor = data.cursor
        trained = any(
            isinstance(event, dg.AssetMaterialization)
            and event.asset_key == brand.brand_style_model.key
            for event in data.asset_events or []
        )
        if not trained:
            if time.monotonic() > deadline:
                raise SystemExit(f"gave up waiting for training after {timeout_s:.0f} s")
            time.sleep(1.0)
    # One more tick commits the cursor: the ledger then flags the training row reported.
    run_tick(
        brand.brand_results, instance=instance, definitions=defs, resources=resources, cursor=cursor
    )
    print(f"  brand_style_model trained ({time.monotonic() - started:.1f} s more)")
    started = time.monotonic()
    result = dg.materialize(
        brand.BRAND_ASSETS,
        selection=[brand.campaign_visual.key],
        instance=instance,
        resources=resources,
        run_config=run_config,
    )
    print(f"  ran campaign_visual ({time.monotonic() - started:.1f} s)")
    return result.success

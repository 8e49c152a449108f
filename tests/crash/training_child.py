"""A child process of the training crash tests: runs a tailored model's training step, or ticks
the result sensor until the model is materialized, then exits.

``python -m tests.crash.training_child SITE.json train|sensor``. ``SITE.json`` names the
instance folder, ledger URL, store, emulator URL and training images folder shared by the
test's processes; the sensor's cursor is kept in a file beside it. With
``BRIA_DAGSTER_CRASH_AT`` set the process dies (exit 86) at that point. Each step and tick is
printed as a JSON line starting with ``TRAININGTEST``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg

from bria_dagster.assets import TailoredModelAsset, TailoredTraining, bria_tailored_model
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor, run_tick

OUTPUT_PREFIX = "TRAININGTEST "
TICK_PAUSE_S = 0.5


def emit(**fields: Any) -> None:
    """One JSON line for the test process."""
    print(OUTPUT_PREFIX + json.dumps(fields), flush=True)


def build(site: dict[str, Any]) -> tuple[TailoredModelAsset, dg.SensorDefinition, dict[str, Any]]:
    """The model's assets, its sensor and the resources, as every child builds them."""
    model = bria_tailored_model(
        "style",
        TailoredTraining(
            images=site["folder"],
            ip_type="stylized_scene",
            ip_medium="photography",
            increase_resolution=True,
        ),
        retry_policy=None,  # a crash is the test's; a retry is the next child
    )
    # A short budget keeps a lease taken by a tick that was killed short as well.
    sensor = build_bria_result_sensor([model], limits=TickLimits(budget_s=3.0))
    resources = {
        "bria": BriaResource(api_token=site["token"], base_url=site["base_url"], **site["client"]),
        "bria_storage": BriaStorageResource(uri=site["store"]),
        "bria_ledger": BriaLedgerResource(url=site["ledger"]),
    }
    return model, sensor, resources


def train(model: TailoredModelAsset, resources: dict[str, Any]) -> None:
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            list(model),
            selection=[model.training.key],
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        emit(op="train", success=result.success)


def sense(
    model: TailoredModelAsset,
    sensor: dg.SensorDefinition,
    resources: dict[str, Any],
    cursor_file: Path,
) -> None:
    defs = dg.Definitions(assets=list(model), sensors=[sensor], resources=resources)
    with dg.DagsterInstance.get() as instance:
        for _ in range(200):
            cursor = cursor_file.read_text() if cursor_file.exists() else None
            data = run_tick(
                sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
            )
            if data.cursor is not None:
                cursor_file.write_text(data.cursor)
            materialized = [
                event.asset_key.to_user_string()
                for event in data.asset_events or []
                if isinstance(event, dg.AssetMaterialization)
            ]
            emit(op="tick", materialized=materialized, skip=data.skip_message)
            if materialized:
                return
            time.sleep(TICK_PAUSE_S)


def main() -> None:
    site_path, mode = Path(sys.argv[1]), sys.argv[2]
    site = json.loads(site_path.read_text())
    os.environ["DAGSTER_HOME"] = site["home"]
    model, sensor, resources = build(site)
    if mode == "train":
        train(model, resources)
    else:
        sense(model, sensor, resources, site_path.with_suffix(".cursor"))


if __name__ == "__main__":
    main()

"""Deferred mode under the real daemon: `dagster dev` on the demo workspace ticks the result
sensor, which materializes the photo and launches the rest of the chain for that SKU."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from tests.ui.dagster_ui import free_port, materialize_assets, running_dagster_ui

REPO = Path(__file__).resolve().parents[2]
SKU = "SKU-1004"
CHAIN = ("product_photo", "cutout", "packshot", "lifestyle_shot", "ad_formats", "ad")


def test_daemon_ticks_the_result_sensor_and_runs_the_chain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "BRIA_DEMO_EMULATOR_PORT": str(free_port()),
        "BRIA_DAGSTER_HOME": str(tmp_path / "bria"),
    }
    workspace = REPO / "workspace.yaml"
    with running_dagster_ui(workspace, home, env=env) as ui:
        materialize_assets(
            workspace, "product_photo_requests", home, partitions=[SKU], env=env, timeout_s=180
        )
        deadline = time.monotonic() + 180
        missing: list[str] = list(CHAIN)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            while missing and time.monotonic() < deadline:
                missing = [
                    name
                    for name in CHAIN
                    if SKU not in instance.get_materialized_partitions(dg.AssetKey(name))
                ]
                time.sleep(2)
            assert not missing, f"not materialized: {missing}\n{ui.log_tail(60)}"
            photo = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("product_photo"), asset_partitions=[SKU]
                ),
                limit=1,
            ).records[0]
            # Reported by the sensor (a runless event), not by a run.
            assert photo.event_log_entry.run_id == ""
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"bria/after": "product_photo"}))
            assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)

"""The definitions ``daemon_backfill.py`` deploys: the demo's chain in small, twice.

    <mode>/photo_requests ─► <mode>/photo ─► <mode>/cutout
      (deferred submit)       (result sensor)  (inline edit, asked for by the sensor)

Mode ``per_partition``: no ``backfill_policy`` (the factories' default): a backfill runs each
partition as a run of its own, and so do the cut-outs the sensor asks for. Mode
``single_run``: both executed steps carry ``BackfillPolicy.single_run()``: a backfill submits
every partition in one run, and the sensor asks for the cut-outs of the partitions a tick
reports in one run per contiguous range. Each mode has its own result sensor.

Loaded by the webserver, the daemon and every run worker, each a process of its own; what they
share comes from the environment the benchmark sets (``BENCH_*``, ``BRIA_*``).
"""

from __future__ import annotations

import os

import dagster as dg

from bria_dagster.assets import BriaImageIOManager, StepInput, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.editing import RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor

PARTITIONS = "bench_skus"
MODES: dict[str, dg.BackfillPolicy | None] = {
    "per_partition": None,
    "single_run": dg.BackfillPolicy.single_run(),
}
env = os.environ.get
skus = dg.DynamicPartitionsDefinition(name=PARTITIONS)


def photo_request(step: StepInput) -> GenerateImageRequest:
    """A square studio photo per SKU (the demo's request)."""
    number = int((step.partition_key or "0").rsplit("-", 1)[-1])
    return GenerateImageRequest(
        prompt=f"studio photo of product {number}, white background",
        aspect_ratio="1:1",
        seed=number,
    )


def cutout_request(step: StepInput) -> RemoveBackgroundRequest:
    """The photo without its background."""
    return RemoveBackgroundRequest(image=step.image.data)


def chain(mode: str) -> list[dg.AssetsDefinition | dg.AssetSpec | dg.SensorDefinition]:
    """The photo step, its cut-out and their result sensor, under the key prefix ``mode``."""
    policy = MODES[mode]
    photo = bria_deferred_asset(
        "photo", photo_request, key_prefix=mode, partitions_def=skus, backfill_policy=policy
    )
    cutout = bria_asset(
        "cutout",
        cutout_request,
        upstream=photo,
        key_prefix=mode,
        partitions_def=skus,
        backfill_policy=policy,
    )
    results = build_bria_result_sensor(
        [photo],
        name=f"{mode}_results",
        downstream=[cutout],
        minimum_interval_seconds=int(env("BENCH_SENSOR_INTERVAL_S", "5")),
        limits=TickLimits(budget_s=30.0, max_polls=1000, max_stores=500, max_reports=500),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    return [*photo, cutout, results]


everything = [item for mode in MODES for item in chain(mode)]

# On PostgreSQL, the ledger and the rate budget share the instance's database (the harness's
# DIST_LEDGER_URL); on SQLite, the ledger is a file beside the instance and the budget another.
on_postgres = env("BENCH_BACKEND") == "postgres"
database = env("DIST_LEDGER_URL", "")
LEDGER_URL = database if on_postgres else None
LIMITER = database.replace("+psycopg", "") if on_postgres else env("BENCH_LIMITER")
STORAGE = BriaStorageResource(uri=env("BENCH_STORAGE_URI"))
# Dagster's default executor starts a process per step on top of the run's own; Bria steps wait
# on HTTP, so ``in_process`` (one process per run) loses nothing and saves that start.
EXECUTOR = {"multiprocess": dg.multiprocess_executor, "in_process": dg.in_process_executor}
defs = dg.Definitions(
    executor=EXECUTOR[env("BENCH_EXECUTOR", "multiprocess")],
    assets=[item for item in everything if not isinstance(item, dg.SensorDefinition)],
    sensors=[item for item in everything if isinstance(item, dg.SensorDefinition)],
    resources={
        "bria": BriaResource(
            api_token=dg.EnvVar("BRIA_API_TOKEN"),
            base_url=env("BRIA_BASE_URL"),
            requests_per_minute=int(env("BENCH_RPM", "1000")),
            rate_limit_window_s=float(env("BENCH_WINDOW_S", "60")),
            rate_limit_backend=LIMITER,
            poll_first_factor=float(env("BENCH_POLL_FIRST_FACTOR", "1.0")),
        ),
        "bria_storage": STORAGE,
        "bria_ledger": BriaLedgerResource(url=LEDGER_URL),
        "bria_io_manager": BriaImageIOManager(storage=STORAGE),
    },
)

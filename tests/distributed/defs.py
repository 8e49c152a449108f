"""The definitions the distributed test deploys: a deferred photo step, two inline steps after
it (cut-out, square format), the result sensor, and the Celery executor.

Loaded by the daemon, the webserver, the run workers and the Celery workers, each a process of
its own; everything they share comes from the environment the test sets (``DIST_*``).
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_celery import celery_executor

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.resources import BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor
from tests.distributed.resources import deployed_resources

PARTITIONS_PER_RUN = 30
"""A backfill's runs each take this many partitions (60 partitions: 2 runs): each run is a
process of its own, plus one Celery task per step."""

env = os.environ.get
skus = dg.StaticPartitionsDefinition([f"sku-{i:03d}" for i in range(int(env("DIST_SKUS", "60")))])
per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=PARTITIONS_PER_RUN)


def photo_request(step: StepInput) -> GenerateImageRequest:
    return GenerateImageRequest(prompt=f"studio photo of product {step.partition_key}", seed=7)


photo = bria_deferred_asset(
    "photo", photo_request, partitions_def=skus, backfill_policy=per_run, retry_policy=None
)
cutout = bria_asset(
    "cutout",
    lambda step: RemoveBackgroundRequest(image=step.image.data),
    upstream=photo,
    partitions_def=skus,
    backfill_policy=per_run,
)
square = bria_asset(
    "square",
    lambda step: ExpandRequest(image=step.image.data, aspect_ratio="1:1"),
    upstream=cutout,
    partitions_def=skus,
    backfill_policy=per_run,
)
inline_photo = bria_asset(
    "inline_photo", photo_request, partitions_def=skus, backfill_policy=per_run
)
"""The photo step inline (the benchmark's inline mode; the test does not run it)."""
results = build_bria_result_sensor(
    [photo],
    minimum_interval_seconds=2,
    limits=TickLimits(budget_s=20.0),
    default_status=dg.DefaultSensorStatus.RUNNING,
)

STORAGE = BriaStorageResource(
    uri=env("DIST_STORAGE_URI"),
    endpoint_url=env("DIST_S3_ENDPOINT"),
    access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
    secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    region="us-east-1",
)

broker = env("DIST_BROKER", "")
defs = dg.Definitions(
    assets=[*photo, cutout, square, inline_photo],
    sensors=[results],
    executor=celery_executor.configured(
        {
            "broker": broker,
            "backend": broker,
            "config_source": {
                "task_default_queue": env("DIST_QUEUE", "dagster"),
                # A worker that dies mid-step hands its task back to the broker, and another
                # worker runs the step again (it resumes its requests from the ledger).
                "task_acks_late": True,
                "task_reject_on_worker_lost": True,
            },
        }
    ),
    resources=deployed_resources(
        STORAGE,
        requests_per_minute=int(env("DIST_RPM", "600")),
        rate_limit_fraction=0.8,
        rate_limit_backend=env("DIST_LIMITER"),
    ),
)

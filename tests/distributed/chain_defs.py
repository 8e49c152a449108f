"""A whole deferred chain for the daemon test: a deferred photo step, a cut-out and a square
format after it (backfilled together), and a second deferred photo whose cut-out runs by
declarative automation (eager).

Loaded by the daemon, the webserver and the run workers (the in-process executor: no Celery);
everything they share comes from the environment the test sets (``DIST_*``).
"""

from __future__ import annotations

import os

import dagster as dg

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.resources import BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor
from tests.distributed.resources import deployed_resources

env = os.environ.get
skus = dg.StaticPartitionsDefinition([f"sku-{i}" for i in range(int(env("DIST_SKUS", "4")))])
one_run = dg.BackfillPolicy.single_run()


def photo_request(step: StepInput) -> GenerateImageRequest:
    return GenerateImageRequest(prompt=f"studio photo of product {step.partition_key}", seed=7)


def cutout_request(step: StepInput) -> RemoveBackgroundRequest:
    return RemoveBackgroundRequest(image=step.image.data)


photo = bria_deferred_asset(
    "photo", photo_request, partitions_def=skus, backfill_policy=one_run, retry_policy=None
)
cutout = bria_asset(
    "cutout", cutout_request, upstream=photo, partitions_def=skus, backfill_policy=one_run
)
square = bria_asset(
    "square",
    lambda step: ExpandRequest(image=step.image.data, aspect_ratio="1:1"),
    upstream=cutout,
    partitions_def=skus,
    backfill_policy=one_run,
)
auto_photo = bria_deferred_asset(
    "auto_photo", photo_request, partitions_def=skus, backfill_policy=one_run, retry_policy=None
)
auto_cutout = bria_asset(
    "auto_cutout",
    cutout_request,
    upstream=auto_photo,
    partitions_def=skus,
    automation_condition=dg.AutomationCondition.eager(),
)
results = build_bria_result_sensor(
    [photo, auto_photo], minimum_interval_seconds=1, limits=TickLimits(budget_s=10.0)
)
automation = dg.AutomationConditionSensorDefinition(
    "bria_automation",
    target=dg.AssetSelection.assets(auto_cutout),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=1,
)

defs = dg.Definitions(
    assets=[*photo, cutout, square, *auto_photo, auto_cutout],
    sensors=[results, automation],
    executor=dg.in_process_executor,
    resources=deployed_resources(BriaStorageResource(uri=env("DIST_STORAGE_URI"))),
)

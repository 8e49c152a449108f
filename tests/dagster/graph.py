"""A small product-image graph used by the Dagster tests: generate → cut out → ad formats."""

from __future__ import annotations

import dagster as dg

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest

SKUS = ["sku-red-1", "sku-blue-2", "sku-green-3"]
products = dg.StaticPartitionsDefinition(SKUS)
FORMATS = ("1:1", "16:9")


def product_prompt(step: StepInput) -> GenerateImageRequest:
    colour = (step.partition_key or "").split("-")[1]
    return GenerateImageRequest(
        prompt=f"studio photo of a {colour} ceramic mug", aspect_ratio="4:3", seed=42
    )


def cut_out(step: StepInput) -> RemoveBackgroundRequest:
    return RemoveBackgroundRequest(image=step.image.data)


def ad_formats(step: StepInput) -> dict[str, ExpandRequest]:
    return {ratio: ExpandRequest(image=step.image.data, aspect_ratio=ratio) for ratio in FORMATS}


def build_graph(retry_policy: dg.RetryPolicy | None = None) -> list[dg.AssetsDefinition]:
    """Three chained assets over the SKU partitions."""
    photo = bria_asset(
        "product_photo",
        product_prompt,
        partitions_def=products,
        group_name="catalog",
        retry_policy=retry_policy,
    )
    cutout = bria_asset(
        "cutout",
        cut_out,
        upstream=photo,
        partitions_def=products,
        group_name="catalog",
        retry_policy=retry_policy,
    )
    formats = bria_asset(
        "ad_formats",
        ad_formats,
        upstream=cutout,
        partitions_def=products,
        group_name="catalog",
        retry_policy=retry_policy,
    )
    return [photo, cutout, formats]

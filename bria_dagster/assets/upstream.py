"""Reading what an upstream asset made, from its latest materialization: the images a Bria step
stored, or the id of a trained tailored model."""

from __future__ import annotations

import dagster as dg

from bria_dagster.assets.step import UpstreamImage
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord
from bria_dagster.storage import ObjectStore


class UpstreamMissingError(dg.Failure):
    """The upstream asset has no stored images for the partition."""


def upstream_images(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partition_key: str | None,
    store: ObjectStore,
) -> tuple[UpstreamImage, ...]:
    """The images of ``asset_key``'s latest materialization of ``partition_key``.

    Inline and deferred steps record the same ``bria/images`` metadata, so both can feed a
    downstream step. Raises :class:`UpstreamMissingError` (not retried) when there is none.
    """
    records_filter = dg.AssetRecordsFilter(
        asset_key=asset_key, asset_partitions=[partition_key] if partition_key else None
    )
    found = instance.fetch_materializations(records_filter, limit=1).records
    label = f"{asset_key.to_user_string()}" + (f" [{partition_key}]" if partition_key else "")
    if not found or found[0].asset_materialization is None:
        raise UpstreamMissingError(
            f"upstream {label} has not been materialized; materialize it first",
            allow_retries=False,
        )
    entry = found[0].asset_materialization.metadata.get(METADATA_IMAGES)
    if entry is None or not isinstance(entry.value, list):
        raise UpstreamMissingError(
            f"upstream {label} carries no {METADATA_IMAGES} metadata (not a Bria asset?)",
            allow_retries=False,
        )
    user_key = asset_key.to_user_string()
    records = [ImageRecord.from_json(item) for item in entry.value]
    return tuple(
        UpstreamImage(user_key, record, store)
        for record in records
        if partition_key is None or record.partition_key in (partition_key, None)
    )


MODEL_ID_KEY = "bria/tailored_model_id"
"""The metadata entry of a trained model's id (what ``step.tailored_model_id`` reads)."""


def upstream_model_id(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> int:
    """The id of the latest trained model of the tailored model asset ``asset_key``. Raises
    :class:`UpstreamMissingError` (not retried) when none was trained yet."""
    found = instance.fetch_materializations(asset_key, limit=1).records
    event = found[0].asset_materialization if found else None
    value = event.metadata.get(MODEL_ID_KEY) if event else None
    if value is None or not isinstance(value.value, int):
        raise UpstreamMissingError(
            f"tailored model {asset_key.to_user_string()} has no trained model yet: "
            "materialize its training asset and let the result sensor collect it",
            allow_retries=False,
        )
    return value.value

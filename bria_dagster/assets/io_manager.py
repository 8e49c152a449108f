"""``BriaImageIOManager``: any ``@asset`` takes a Bria asset as an input and gets its images.

Bria assets store their images themselves (object storage) and record them in their
materialization metadata, so their outputs carry no value; ``handle_output`` has nothing to do.
``load_input`` reads the upstream asset's latest materialization of each input partition and
returns :class:`~bria_dagster.assets.step.BriaImage` objects (bytes and Pillow on demand).
"""

from typing import Any

import dagster as dg

from bria_dagster.assets.options import BRIA_IO_MANAGER_KEY
from bria_dagster.assets.step import BriaImage
from bria_dagster.assets.upstream import upstream_images
from bria_dagster.resources import BriaStorageResource


class BriaImageIOManager(dg.ConfigurableIOManager):
    """Loads a Bria asset's stored images as a downstream input.

    The input's value: for an unpartitioned input or a single partition, a ``list`` of
    :class:`BriaImage` (a step may store several images per partition: variants); for an input
    spanning several partitions, a ``dict`` of partition key to that list. A missing upstream
    materialization fails the step without retry, naming the asset and partition.
    """

    storage: BriaStorageResource
    """The object storage the Bria assets write to (the same as their ``bria_storage``)."""

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Nothing to store: a Bria asset stores its images itself."""
        if obj is not None:
            raise dg.DagsterInvariantViolationError(
                f"{BRIA_IO_MANAGER_KEY} only loads Bria assets' images; it cannot store a "
                f"{type(obj).__name__} (give this asset another io_manager_key)"
            )

    def load_input(self, context: dg.InputContext) -> list[BriaImage] | dict[str, list[BriaImage]]:
        """The upstream asset's stored images for the input's partition(s)."""
        store = self.storage.get_store()
        key = context.asset_key
        if not context.has_asset_partitions:
            return list(upstream_images(context.instance, key, None, store))
        partition_keys = list(context.asset_partition_keys)
        by_partition = {
            partition: list(upstream_images(context.instance, key, partition, store))
            for partition in partition_keys
        }
        if len(partition_keys) == 1:
            return by_partition[partition_keys[0]]
        return by_partition

"""The result sensor loads the dynamic partitions of a tick's run requests in one query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bria_dagster.sensors.results import _load_partitions_of

products = dg.DynamicPartitionsDefinition(name="products")


@dg.asset(partitions_def=products)
def cutout() -> None:
    """A downstream asset on dynamic partitions."""


def test_the_partitions_of_the_run_requests_are_known_to_dagster_without_a_query_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions("products", ["sku-1", "sku-2"])
        with dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            definitions=dg.Definitions(assets=[cutout]),
        ) as context:
            runs = [
                dg.RunRequest(partition_key=key, asset_selection=[cutout.key])
                for key in ("sku-1", "sku-2", "not-a-partition")
            ]
            _load_partitions_of(context, runs)

            def no_query(*_args: Any) -> bool:
                raise AssertionError("a query per partition")

            monkeypatch.setattr(instance, "has_dynamic_partition", no_query)
            loader = context.caching_dynamic_partitions_loader
            assert loader.has_dynamic_partition("products", "sku-1")
            assert loader.has_dynamic_partition("products", "sku-2")
            # An unknown key stays unknown: Dagster still refuses its run.
            assert not loader.has_dynamic_partition("products", "not-a-partition")

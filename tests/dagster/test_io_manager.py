"""A plain ``@asset`` takes a Bria asset as an input and gets its stored images."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import BriaImage, StepInput, bria_asset
from bria_dagster.client.types.generation import GenerateImageRequest
from tests.dagster.graph import SKUS, build_graph, products


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_plain_asset_loads_a_bria_image(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    photo, cutout, _ = build_graph()
    seen: dict[str, Any] = {}

    @dg.asset(partitions_def=products)
    def hero_hires(cutout: list[BriaImage]) -> None:
        (image,) = cutout
        seen["image"] = image
        seen["bytes"] = image.read_bytes()
        seen["pil"] = image.open_image()

    sku = SKUS[0]
    result = dg.materialize(
        [photo, cutout, hero_hires], instance=instance, resources=resources, partition_key=sku
    )
    assert result.success
    image: BriaImage = seen["image"]
    assert image.partition_key == sku
    assert image.record.endpoint == "/v2/image/edit/remove_background"
    assert image.metadata["request_id"] == image.record.request_id
    assert image.uri.startswith(resources["bria_storage"].get_store().uri + "/")
    assert seen["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    assert seen["pil"].mode == "RGBA"
    assert seen["pil"].size == (image.width, image.height)


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_unpartitioned_downstream_gets_every_partition_by_key(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    def poster(step: StepInput) -> GenerateImageRequest:
        return GenerateImageRequest(prompt=f"poster {step.partition_key}", seed=3)

    posters = bria_asset("posters", poster, partitions_def=products)
    for sku in SKUS[:2]:
        assert dg.materialize(
            [posters], instance=instance, resources=resources, partition_key=sku
        ).success
    seen: dict[str, Any] = {}

    @dg.asset(ins={"posters": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def contact_sheet(posters: dict[str, list[BriaImage]]) -> None:
        seen.update(posters)

    # The third SKU was never materialized: loading it fails naming the asset and partition.
    failed = dg.materialize(
        [posters.to_source_asset(), contact_sheet],
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not failed.success
    assert f"posters [{SKUS[2]}] has not been materialized" in str(
        failed.get_step_failure_events()[0].step_failure_data.error
    )
    assert dg.materialize(
        [posters, contact_sheet],
        instance=instance,
        resources=resources,
        partition_key=SKUS[2],
        selection=[posters.key],
    ).success
    assert dg.materialize(
        [posters.to_source_asset(), contact_sheet], instance=instance, resources=resources
    ).success
    assert sorted(seen) == sorted(SKUS)
    assert all(len(images) == 1 and images[0].read_bytes() for images in seen.values())


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_bria_asset_without_the_io_manager_fails_to_define(
    resources: dict[str, Any],
) -> None:
    posters = bria_asset("posters", GenerateImageRequest(prompt="a poster", seed=1))
    without = {k: v for k, v in resources.items() if k != "bria_io_manager"}
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="bria_io_manager"):
        dg.Definitions(assets=[posters], resources=without).resolve_all_job_defs()

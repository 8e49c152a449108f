"""Materialize a partitioned three-step graph against the emulator and check what it made."""

from __future__ import annotations

import io
from typing import Any

import dagster as dg
from PIL import Image

from bria_dagster.assets import METADATA_IMAGES, ImageRecord
from bria_dagster.storage import ObjectStore
from tests.dagster.graph import FORMATS, SKUS, build_graph


def _latest(instance: dg.DagsterInstance, key: str, partition: str) -> dg.AssetMaterialization:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
    ).records
    assert records, f"{key} [{partition}] was not materialized"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return materialization


def _records(m: dg.AssetMaterialization) -> list[ImageRecord]:
    return [ImageRecord.from_json(item) for item in m.metadata[METADATA_IMAGES].value]


def test_partitioned_graph_stores_images_with_lineage(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    assets = build_graph()
    for sku in SKUS[:2]:
        result = dg.materialize(assets, instance=instance, resources=resources, partition_key=sku)
        assert result.success
        checks = result.get_asset_check_evaluations()
        # Only the checks that apply are defined (and all of them really checked something).
        assert sorted((c.asset_key.to_user_string(), c.check_name) for c in checks) == [
            ("ad_formats", "image_dimensions"),
            ("ad_formats", "image_readable"),
            ("cutout", "image_alpha"),
            ("cutout", "image_readable"),
            ("product_photo", "image_dimensions"),
            ("product_photo", "image_readable"),
        ]
        assert all(c.passed for c in checks), [
            (c.check_name, c.metadata) for c in checks if not c.passed
        ]

    store: ObjectStore = resources["bria_storage"].get_store()
    for sku in SKUS[:2]:
        photo = _latest(instance, "product_photo", sku)
        (generated,) = _records(photo)
        assert generated.endpoint == "/v2/image/generate"
        assert generated.seed == 42 and generated.prompt and sku.split("-")[1] in generated.prompt
        assert photo.metadata["bria/request_id"].value == generated.request_id
        assert photo.metadata["bria/storage_uri"].value == generated.uri
        assert photo.metadata["bria/width"].value == generated.width
        usage = photo.metadata["bria/usage"].value
        assert usage["calls"].get("/v2/image/generate") == 1 and usage["status_polls"] >= 1
        assert photo.metadata["bria/rate_limited"].value == 0
        assert photo.metadata["preview"].value.startswith("![")
        assert "data:image/" in photo.metadata["preview"].value
        image = Image.open(io.BytesIO(store.read_bytes(generated.key)))
        assert abs(image.width / image.height / (4 / 3) - 1) < 0.03
        provenance = store.read_provenance(generated.key)
        assert provenance["request_id"] == generated.request_id and provenance["seed"] == 42

        (cut,) = _records(_latest(instance, "cutout", sku))
        cut_image = Image.open(io.BytesIO(store.read_bytes(cut.key)))
        assert cut_image.mode == "RGBA" and cut_image.getchannel("A").getextrema()[0] < 255
        assert cut.has_alpha and cut.expected == {"alpha": True}

        ads = _records(_latest(instance, "ad_formats", sku))
        assert sorted(r.variant or "" for r in ads) == sorted(FORMATS)
        for record in ads:
            w, h = Image.open(io.BytesIO(store.read_bytes(record.key))).size
            num, den = (int(x) for x in (record.variant or "").split(":"))
            assert abs(w / h / (num / den) - 1) < 0.03, (record.variant, w, h)
            assert record.key.startswith(f"ad_formats/{sku}/")

    # Lineage: each step depends on the one before it.
    graph = dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()
    assert graph.get(dg.AssetKey("cutout")).parent_keys == {dg.AssetKey("product_photo")}
    assert graph.get(dg.AssetKey("ad_formats")).parent_keys == {dg.AssetKey("cutout")}
    # Two partitions x (1 generate + 1 cut-out + 2 expands), each submitted once.
    submits = emulator.stats().submits
    assert submits.get("/v2/image/generate") == 2
    assert submits.get("/v2/image/edit/remove_background") == 2
    assert submits.get("/v2/image/edit/expand") == 4

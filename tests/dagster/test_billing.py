"""No double billing: re-materializing reuses stored results; a forced refresh pays again."""

from __future__ import annotations

from typing import Any

import dagster as dg

from bria_dagster.assets import FORCE_TAG
from tests.dagster.graph import SKUS, build_graph
from tests.dagster.test_inline_graph import _latest, _records


def _submits(emulator: Any) -> dict[str, int]:
    return dict(emulator.stats().submits)


def test_second_materialization_sends_no_generation_request(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, *_ = build_graph()
    for sku in SKUS:
        assert dg.materialize([photo], instance=instance, resources=resources, partition_key=sku)
    first = _submits(emulator)
    assert first == {"/v2/image/generate": len(SKUS)}
    first_records = {sku: _records(_latest(instance, "product_photo", sku))[0] for sku in SKUS}

    for sku in SKUS:
        result = dg.materialize([photo], instance=instance, resources=resources, partition_key=sku)
        assert result.success
        (m,) = result.asset_materializations_for_node("product_photo")
        assert m.metadata["bria/reused"].value == 1
        assert m.metadata["bria/api_calls"].value == 0
    assert _submits(emulator) == first, "a re-materialization sent a new generation request"
    for sku in SKUS:
        (again,) = _records(_latest(instance, "product_photo", sku))
        assert again.reused and again.uri == first_records[sku].uri
        assert again.sha256 == first_records[sku].sha256

    # A forced refresh of one partition pays for exactly one new request, stored beside the old.
    forced = dg.materialize(
        [photo],
        instance=instance,
        resources=resources,
        partition_key=SKUS[0],
        tags={FORCE_TAG: "true"},
    )
    assert forced.success
    assert _submits(emulator) == {"/v2/image/generate": len(SKUS) + 1}
    (fresh,) = _records(_latest(instance, "product_photo", SKUS[0]))
    assert not fresh.reused and fresh.uri != first_records[SKUS[0]].uri
    assert fresh.request_id != first_records[SKUS[0]].request_id

    # The next plain run reuses the newest result, and config force works like the tag.
    dg.materialize([photo], instance=instance, resources=resources, partition_key=SKUS[0])
    assert _records(_latest(instance, "product_photo", SKUS[0]))[0].uri == fresh.uri
    dg.materialize(
        [photo],
        instance=instance,
        resources=resources,
        partition_key=SKUS[1],
        run_config=dg.RunConfig(ops={"product_photo": {"config": {"force": True}}}),
    )
    assert _submits(emulator) == {"/v2/image/generate": len(SKUS) + 2}

"""Dynamic and multi-dimensional partitions, and partition keys that try to leave the prefix."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.client.types.generation import GenerateImageRequest
from tests.dagster.test_inline_graph import _latest, _records

pytestmark = pytest.mark.parametrize("storage", ["file"], indirect=True)


def test_dynamic_partitions_with_awkward_keys_stay_under_the_prefix(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    prompts = dg.DynamicPartitionsDefinition(name="prompts")
    seen: list[StepInput] = []

    def build(step: StepInput) -> GenerateImageRequest:
        seen.append(step)
        return GenerateImageRequest(prompt=f"poster: {step.partition_key}", seed=9)

    asset = bria_asset("posters", build, partitions_def=prompts)
    keys = ["../../etc/passwd", "a red/blue mug", "été ☕"]
    instance.add_dynamic_partitions("prompts", keys)
    for key in keys:
        assert dg.materialize([asset], instance=instance, resources=resources, partition_key=key)
    store = resources["bria_storage"].get_store()
    stored = [_records(_latest(instance, "posters", key))[0] for key in keys]
    assert len({r.key for r in stored}) == 3
    for record in stored:
        assert record.key.startswith("posters/") and ".." not in record.key.split("/")
        assert record.uri.startswith(store.uri + "/")
        assert store.exists(record.key)
    assert [s.partition_key for s in seen] == keys


def test_multi_partitions_pass_their_dimensions(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    grid = dg.MultiPartitionsDefinition(
        {
            "colour": dg.StaticPartitionsDefinition(["red", "blue"]),
            "ratio": dg.StaticPartitionsDefinition(["1:1", "16:9"]),
        }
    )
    asset = bria_asset(
        "grid",
        lambda step: GenerateImageRequest(
            prompt=f"a {step.dimensions['colour']} lamp",
            aspect_ratio=step.dimensions["ratio"],
            seed=4,
        ),
        partitions_def=grid,
    )
    key = dg.MultiPartitionKey({"colour": "blue", "ratio": "16:9"})
    result = dg.materialize([asset], instance=instance, resources=resources, partition_key=key)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    (record,) = _records(_latest(instance, "grid", str(key)))
    assert record.expected == {"aspect_ratio": "16:9"}
    assert record.width and record.height and record.width > record.height
    assert "blue" in (record.prompt or "")

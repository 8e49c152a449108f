"""Both factories take the keyword arguments of one options dataclass each, written once."""

from __future__ import annotations

import dataclasses
import inspect

import dagster as dg
import pytest

from bria_dagster.assets import (
    BriaAssetOptions,
    BriaStepOptions,
    bria_asset,
    bria_deferred_asset,
)
from bria_dagster.client.types.generation import GenerateImageRequest

REQUEST = GenerateImageRequest(prompt="a studio photo")


def _keywords(factory: object) -> list[str]:
    parameters = inspect.signature(factory).parameters.values()  # type: ignore[arg-type]
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def test_each_factory_shows_the_fields_of_its_options_as_keywords() -> None:
    assert _keywords(bria_asset) == [f.name for f in dataclasses.fields(BriaAssetOptions)]
    assert _keywords(bria_deferred_asset) == [f.name for f in dataclasses.fields(BriaStepOptions)]
    shared = {f.name for f in dataclasses.fields(BriaStepOptions)}
    assert shared < set(_keywords(bria_asset))


def test_the_shared_options_shape_inline_and_deferred_steps_alike() -> None:
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    shared = {
        "key_prefix": ["shop"],
        "partitions_def": daily,
        "group_name": "catalog",
        "owners": ["team:studio"],
        "tags": {"tier": "gold"},
        "kinds": {"s3"},
        "pool": "bria_slow",
        "retry_policy": None,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "bria_key": "bria2",
    }
    inline = bria_asset("inline", REQUEST, checks=False, **shared)  # type: ignore[arg-type]
    deferred = bria_deferred_asset("later", REQUEST, upstream=inline, **shared)  # type: ignore[arg-type]
    for asset, key in ((inline, "shop/inline"), (deferred.submit, "shop/later_requests")):
        spec = next(iter(asset.specs))
        assert spec.key.to_user_string() == key
        assert spec.group_name == "catalog"
        assert spec.owners == ["team:studio"]
        assert spec.tags["tier"] == "gold"
        assert spec.kinds == {"bria", "s3"}
        assert asset.partitions_def == daily
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
        assert "bria2" in asset.required_resource_keys
        assert asset.op.pool == "bria_slow"
    assert not inline.check_specs_by_output_name
    assert deferred.submit.dependency_keys == {inline.key}
    assert deferred.result.partitions_def == daily


def test_an_unknown_or_inline_only_option_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="group_nam"):
        bria_asset("a", REQUEST, group_nam="g")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="checks"):
        bria_deferred_asset("d", REQUEST, checks=False)  # type: ignore[call-arg]

"""Checks that do not apply to an asset are not defined; a defined one that compared nothing
does not pass."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import StepInput, bria_asset, bria_deferred_asset
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest

IMAGE = "https://example.com/mug.png"


def _checks(asset: Any) -> set[str]:
    return {key.name for key in asset.check_keys}


def test_a_generation_has_no_alpha_check_and_a_cut_out_has_one() -> None:
    generate = bria_asset("photo", GenerateImageRequest(prompt="a mug", aspect_ratio="4:3"))
    assert _checks(generate) == {"image_readable", "image_dimensions"}
    # A fixed request that asks for no size has nothing for the dimensions check to compare.
    unsized = bria_asset("unsized", GenerateImageRequest(prompt="a mug"))
    assert _checks(unsized) == {"image_readable"}
    cut = bria_asset("cut", RemoveBackgroundRequest(image=IMAGE))
    assert _checks(cut) == {"image_readable", "image_alpha"}


def test_a_builder_is_judged_by_its_return_annotation() -> None:
    def formats(step: StepInput) -> dict[str, ExpandRequest]:
        return {"1:1": ExpandRequest(image=step.image.data, aspect_ratio="1:1")}

    def cut(step: StepInput) -> list[RemoveBackgroundRequest] | None:
        return [RemoveBackgroundRequest(image=step.image.data)]

    assert _checks(bria_asset("formats", formats)) == {"image_readable", "image_dimensions"}
    assert _checks(bria_asset("cut", cut)) == {"image_readable", "image_alpha"}
    # Unknown operation: only what always applies; more on request.
    unknown = bria_asset("any", lambda step: RemoveBackgroundRequest(image=IMAGE))
    assert _checks(unknown) == {"image_readable"}
    chosen = bria_asset(
        "chosen", lambda step: RemoveBackgroundRequest(image=IMAGE), checks={"image_alpha"}
    )
    assert _checks(chosen) == {"image_alpha"}
    assert _checks(bria_asset("none", GenerateImageRequest(prompt="x"), checks=False)) == set()


def test_an_unknown_check_name_is_refused_naming_the_option() -> None:
    with pytest.raises(BriaInputError, match="checks") as caught:
        bria_asset("bad", GenerateImageRequest(prompt="x"), checks={"image_sharpness"})
    assert "image_sharpness" in str(caught.value)


def test_a_deferred_step_has_only_its_applicable_checks() -> None:
    cut = bria_deferred_asset("cut", RemoveBackgroundRequest(image=IMAGE))
    assert _checks(cut.checks) == {"image_readable", "image_alpha"}
    photo = bria_deferred_asset("photo", GenerateImageRequest(prompt="a mug", aspect_ratio="1:1"))
    assert _checks(photo.checks) == {"image_readable", "image_dimensions"}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_defined_check_that_compared_nothing_warns_instead_of_passing(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    # The builder's model can carry an aspect ratio, so the check is defined; it asked for none.
    def unsized(step: StepInput) -> GenerateImageRequest:
        return GenerateImageRequest(prompt="a mug", seed=5)

    photo = bria_asset("photo", unsized)
    result = dg.materialize([photo], instance=instance, resources=resources)
    assert result.success
    by_name = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert by_name["image_readable"].passed
    dimensions = by_name["image_dimensions"]
    assert not dimensions.passed
    assert dimensions.severity == dg.AssetCheckSeverity.WARN
    assert dimensions.metadata["checked"].value == 0

"""Request models: the documented rules, the wire payload, and the errors' wording."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import (
    ads,
    editing,
    fibo_edit,
    generation,
    product,
    tailored,
    tailored_generation,
    video,
)
from bria_dagster.client.types.base import BriaRequest

from .examples import IMG, MINIMAL, SP, VID


def png(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def refused(model: type[BriaRequest], body: dict[str, Any]) -> BriaInputError:
    with pytest.raises(BriaInputError) as caught:
        model.parse(body)
    with pytest.raises(ValidationError):
        model.model_validate(body)
    return caught.value


@pytest.mark.parametrize(
    ("model", "body", "field", "words"),
    [
        (generation.GenerateImageRequest, {}, "prompt", "provide one of"),
        (
            generation.GenerateImageRequest,
            {"images": [IMG], "structured_prompt": SP},
            "images",
            "cannot be combined",
        ),
        (
            generation.GenerateImageRequest,
            {"images": [IMG], "style": "hard_flash"},
            "style",
            "text-to-image",
        ),
        (
            generation.GenerateImageRequest,
            {"prompt": "x", "aspect_ratio": "21:9", "resolution": "4MP"},
            "aspect_ratio",
            "1MP",
        ),
        (
            generation.GenerateImageRequest,
            {"prompt": "x", "structured_prompt": SP, "aspect_ratio": "1:5"},
            "aspect_ratio",
            "exactly one",
        ),
        (generation.GenerateImageRequest, {"prompt": "x", "steps_num": 34}, "steps_num", "35"),
        (generation.GenerateImageRequest, {"prompt": "x", "prompt ": "y"}, "prompt ", "unknown"),
        (generation.GenerateImageRequest, {"promt": "x"}, "promt", "did you mean 'prompt'"),
        (generation.GenerateImageRequest, {"prompt": "  "}, "prompt", "blank"),
        (
            generation.GenerateImageRequest,
            {"structured_prompt": "{nope"},
            "structured_prompt",
            "JSON",
        ),
        (
            generation.GenerateImageRequest,
            {"structured_prompt": "[1]"},
            "structured_prompt",
            "object",
        ),
        (
            generation.GenerateImageLiteRequest,
            {"prompt": "x", "style": "hard_flash"},
            "style",
            "unknown",
        ),
        (generation.StructuredPromptRequest, {"structured_prompt": SP}, "prompt", "required with"),
        (editing.ReplaceBackgroundRequest, {"image": IMG}, "prompt", "prompt or ref_images"),
        (
            editing.ReplaceBackgroundRequest,
            {"image": IMG, "prompt": "x", "ref_images": [IMG]},
            "ref_images",
            "cannot be combined",
        ),
        (
            editing.ReplaceBackgroundRequest,
            {"image": IMG, "prompt": "x", "mode": "fast", "negative_prompt": "y"},
            "negative_prompt",
            "fast",
        ),
        (editing.BlurBackgroundRequest, {"image": IMG, "scale": 6}, "scale", "5"),
        (editing.ExpandRequest, {"image": IMG}, "original_image_size", "required"),
        (
            editing.ExpandRequest,
            {"image": IMG, "aspect_ratio": 2.0, "canvas_size": [10, 10]},
            "canvas_size",
            "aspect_ratio",
        ),
        (editing.ExpandRequest, {"image": IMG, "aspect_ratio": 3.5}, "aspect_ratio", "3"),
        (
            editing.ExpandRequest,
            {
                "image": IMG,
                "canvas_size": [6000, 6000],
                "original_image_size": [10, 10],
                "original_image_location": [0, 0],
            },
            "canvas_size",
            "25,000,000",
        ),
        (editing.EnhanceRequest, {"image": IMG, "sync": True}, "sync", "asynchronous"),
        (
            editing.IncreaseResolutionRequest,
            {"image": IMG, "desired_increase": 3},
            "desired_increase",
            "2",
        ),
        (editing.EraseRequest, {"image": IMG}, "mask", "required"),
        (editing.GenFillRequest, {"image": IMG, "mask": IMG}, "prompt", "required"),
        (fibo_edit.ImageEditRequest, {"images": [IMG]}, "instruction", "structured_instruction"),
        (
            fibo_edit.ImageEditRequest,
            {"images": [IMG], "instruction": "x", "structured_instruction": SP},
            "structured_instruction",
            "cannot be combined",
        ),
        (fibo_edit.ImageEditRequest, {"images": [IMG] * 5, "instruction": "x"}, "images", "4"),
        (fibo_edit.ColorizeRequest, {"image": IMG, "color": "sepia"}, "color", "sepia_vintage"),
        (
            fibo_edit.RelightRequest,
            {"image": IMG, "light_type": "x", "light_direction": "up"},
            "light_direction",
            "front",
        ),
        (product.ProductCutoutV1Request, {}, "image_url", "provide one of"),
        (
            product.ProductCutoutV1Request,
            {"image_url": IMG, "file": IMG},
            "file",
            "cannot be combined",
        ),
        (product.ProductCutoutV1Request, {"image_url": "shoe.png"}, "image_url", "http(s) URL"),
        (
            product.PackshotRequest,
            {"image_url": IMG, "background_color": "white"},
            "background_color",
            "colour",
        ),
        (product.ShadowRequest, {"image_url": IMG, "shadow_width": 30}, "shadow_width", "float"),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "x", "shot_size": [900, 600]},
            "shot_size",
            "automatic",
        ),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "x", "placement_type": "custom_coordinates"},
            "foreground_image_size",
            "required with placement_type custom_coordinates",
        ),
        (
            product.LifestyleShotByTextRequest,
            {
                "image_url": IMG,
                "scene_description": "x",
                "placement_type": "automatic_aspect_ratio",
            },
            "aspect_ratio",
            "required",
        ),
        (
            product.LifestyleShotByTextRequest,
            {
                "image_url": IMG,
                "scene_description": "x",
                "placement_type": "automatic",
                "sync": True,
            },
            "sync",
            "false",
        ),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "#FF5733"},
            "num_results",
            "hex",
        ),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "x", "exclude_elements": "cats"},
            "exclude_elements",
            "fast",
        ),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "x", "padding_values": [1, 2, 3]},
            "padding_values",
            "4",
        ),
        (
            product.LifestyleShotByImageRequest,
            {"image_url": IMG},
            "ref_image_urls",
            "provide one of",
        ),
        (
            product.ProductIntegrateRequest,
            {
                "scene": IMG,
                "products": [
                    {"image": IMG, "coordinates": {"x": 0, "y": 0, "width": 0, "height": 5}}
                ],
            },
            "products[0].coordinates.width",
            "greater than or equal to 1",
        ),
        (product.ProductIntegrateRequest, {"scene": IMG, "products": []}, "products", "at least 1"),
        (
            product.ProductHoldingRequest,
            {"person_image": IMG, "product_images": [IMG] * 4},
            "product_images",
            "3",
        ),
        (ads.AdsGenerateRequest, {"template_id": "1062"}, "brand_id", "1062"),
        (ads.AdsGenerateRequest, {"template_id": "1061", "brand_id": "999"}, "brand_id", "public"),
        (
            ads.AdsGenerateRequest,
            {"template_id": "7", "smart_image": {"scene": {"operation": "expand_image"}}},
            "smart_image.input_image_url",
            "provide one of",
        ),
        (
            ads.AdsGenerateRequest,
            {"template_id": "7", "elements": [{"layer_type": "image", "content": "logo.png"}]},
            "elements[0].content",
            "URL",
        ),
        (ads.AdsResizeRequest, {"attachments": [IMG], "formats": []}, "formats", "at least 1"),
        (
            tailored.CreateProjectRequest,
            {"project_name": "p", "ip_medium": "photography", "ip_type": "icons"},
            "ip_type",
            "illustration",
        ),
        (
            tailored.CreateProjectRequest,
            {"project_name": "p", "ip_medium": "photography", "ip_type": "defined_character"},
            "ip_name",
            "required",
        ),
        (tailored.UpdateDatasetRequest, {}, "name", "provide one of"),
        (
            tailored.UpdateCaptionRequest,
            {"caption": SP, "regenerate_caption": True},
            "regenerate_caption",
            "cannot",
        ),
        (tailored.UpdateCaptionRequest, {"regenerate_caption": False}, "caption", "required"),
        (tailored.GenerateVisualSchemaRequest, {"images": [IMG] * 4}, "images", "at least 5"),
        (tailored.StartTrainingRequest, {"learning_rate": 0.01}, "learning_rate", "0.001"),
        (
            tailored.StartTrainingRequest,
            {"lr_scheduler": "cosine", "lr_warmup_steps": 10},
            "lr_warmup_steps",
            "constant_with_warmup",
        ),
        (tailored.UploadImageRequest, {"image_url": IMG, "file": IMG}, "image_url", "one image"),
        (
            tailored_generation.TailoredGenerateRequest,
            {"tailored_model_id": "1", "structured_prompt": SP},
            "seed",
            "recreate",
        ),
        (
            video.VideoRemoveBackgroundRequest,
            {
                "video": VID,
                "background_color": "Transparent",
                "output_container_and_codec": "mp4_h264",
            },
            "output_container_and_codec",
            "alpha",
        ),
        (video.VideoRemoveBackgroundRequest, {"video": "clip.mp4"}, "video", "http(s) URL"),
        (
            video.VideoIncreaseResolutionRequest,
            {"video": VID, "sync": True},
            "sync",
            "asynchronous",
        ),
        (
            video.MaskByKeyPointsRequest,
            {"video": VID, "key_points": [{"x": 1}]},
            "key_points[0].y",
            "required",
        ),
    ],
)
def test_rules_name_the_field_and_the_rule(
    model: type[BriaRequest], body: dict[str, Any], field: str, words: str
) -> None:
    error = refused(model, body)
    assert error.field == field, str(error)
    assert words in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (generation.GenerateImageRequest, {"structured_prompt": SP, "seed": 5}),
        (generation.GenerateImageRequest, {"structured_prompt": SP, "prompt": "warmer"}),
        (generation.GenerateImageRequest, {"images": [IMG], "prompt": "in this style"}),
        (
            generation.GenerateImageRequest,
            {"prompt": "x", "aspect_ratio": "1:5", "style": "hazy_dreamy"},
        ),
        (editing.ExpandRequest, {"image": IMG, "aspect_ratio": 1.5}),
        (
            editing.ExpandRequest,
            {"image": IMG, "original_image_size": [5, 5], "original_image_location": [-3, 2]},
        ),
        (editing.ReplaceBackgroundRequest, {"image": IMG, "ref_images": IMG}),
        (fibo_edit.ReseasonRequest, {"image": IMG, "season": "monsoon rain"}),
        (fibo_edit.RestyleRequest, {"image": IMG, "style": "stained glass"}),
        (
            product.LifestyleShotByTextRequest,
            {"image_url": IMG, "scene_description": "#FF5733", "num_results": 1},
        ),
        (product.LifestyleShotByImageRequest, {"image_url": IMG, "ref_image_urls": IMG}),
        (ads.AdsGenerateRequest, {"template_id": 1062, "brand_id": 167}),
        (video.VideoIncreaseResolutionRequest, {"video": VID, "desired_increase": "4"}),
        (video.VideoRemoveBackgroundRequest, {"video": VID, "background_color": "Transparent"}),
    ],
)
def test_documented_combinations_are_accepted(
    model: type[BriaRequest], body: dict[str, Any]
) -> None:
    assert model.parse(body).to_payload()


def test_payload_is_the_wire_body() -> None:
    request = generation.GenerateImageRequest(
        prompt="a bicycle", structured_prompt={"short_description": "x"}, seed=7
    )
    assert request.to_payload() == {
        "prompt": "a bicycle",
        "structured_prompt": '{"short_description": "x"}',
        "seed": 7,
    }
    assert ads.AdsGenerateRequest.parse(template_id=1061).to_payload() == {"template_id": "1061"}
    shots = product.LifestyleShotByImageRequest.parse(image_url=IMG, ref_image_urls=IMG)
    assert shots.to_payload()["ref_image_urls"] == [IMG]
    upscale = video.VideoIncreaseResolutionRequest.parse(video=VID, desired_increase="2")
    assert upscale.to_payload() == {"video": VID, "desired_increase": 2}


def test_images_are_normalised_at_payload_time(tmp_path: Path) -> None:
    data = png()
    path = tmp_path / "in.png"
    path.write_bytes(data)
    encoded = base64.b64encode(data).decode()
    integrate = product.ProductIntegrateRequest.parse(
        scene=path,
        products=[
            {"image": data, "coordinates": {"x": 0, "y": 0, "width": 4, "height": 4}},
            {
                "image": f"data:image/png;base64,{encoded}",
                "coordinates": {"x": 1, "y": 1, "width": 2, "height": 2},
            },
        ],
    )
    payload = integrate.to_payload()
    assert payload["scene"] == encoded
    assert [p["image"] for p in payload["products"]] == [encoded, encoded]
    edit = fibo_edit.ImageEditRequest.parse(
        images=[IMG, Image.open(io.BytesIO(data))], instruction="x"
    )
    wire = edit.to_payload()["images"]
    assert wire[0] == IMG and base64.b64decode(wire[1]).startswith(b"\x89PNG")


def test_bad_image_data_is_named_at_payload_time(tmp_path: Path) -> None:
    request = product.ProductIntegrateRequest.parse(
        scene=IMG,
        products=[
            {"image": IMG, "coordinates": {"x": 0, "y": 0, "width": 4, "height": 4}},
            {
                "image": tmp_path / "missing.png",
                "coordinates": {"x": 0, "y": 0, "width": 4, "height": 4},
            },
        ],
    )
    with pytest.raises(BriaInputError) as caught:
        request.to_payload()
    assert caught.value.field == "products[1].image"
    edit = fibo_edit.ImageEditRequest.parse(images=[IMG, b"not an image"], instruction="x")
    with pytest.raises(BriaInputError) as caught:
        edit.to_payload()
    assert caught.value.field == "images[1]"


def test_image_fields_refuse_non_images_at_validation() -> None:
    error = refused(editing.RemoveBackgroundRequest, {"image": 42})
    assert error.field == "image" and "URL, base64" in str(error)
    assert editing.RemoveBackgroundRequest.image_fields() == ("image",)
    assert set(product.ProductHoldingRequest.image_fields()) == {"person_image", "product_images"}


def test_every_problem_is_reported_at_once() -> None:
    error = refused(
        editing.BlurBackgroundRequest, {"image": IMG, "scale": 9, "preserve_alpha": "yes"}
    )
    assert error.field in ("scale", "preserve_alpha")
    assert "scale: " in str(error) and "preserve_alpha: " in str(error)


def test_models_are_frozen_and_forbid_unknown_fields() -> None:
    request = editing.RemoveBackgroundRequest(image=IMG)
    with pytest.raises(ValidationError):
        request.image = "https://other.example.com/x.png"  # type: ignore[misc]
    for model in MINIMAL:
        assert model.model_config.get("extra") == "forbid", model.__name__
        error = refused(model, {**MINIMAL[model], "not_a_field": 1})
        assert error.field == "not_a_field"

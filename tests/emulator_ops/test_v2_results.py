"""What v2 jobs give back over HTTP: real pictures, Bria's result fields, Bria's refusals."""

from __future__ import annotations

import json

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from bria_dagster.emulator import EmulatorServer

from .helpers import (
    SUBJECT,
    b64,
    error_of,
    fetch,
    json_of,
    open_url,
    pixel,
    product_photo,
    run_async,
    run_sync,
)

VGL_KEYS = {
    "short_description",
    "objects",
    "background_setting",
    "lighting",
    "aesthetics",
    "photographic_characteristics",
    "style_medium",
}


def _changed(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        return 255.0
    return float(
        sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean)
    )


def test_generation_is_deterministic_for_seed_and_prompt(http: httpx.Client) -> None:
    def image(prompt: str, seed: int) -> bytes:
        return fetch(
            run_sync(http, "/v2/image/generate", {"prompt": prompt, "seed": seed})["image_url"]
        )

    assert image("a red chair", 4) == image("a red chair", 4)
    assert image("a red chair", 4) != image("a red chair", 5)
    assert image("a red chair", 4) != image("a blue chair", 4)


def test_generation_result_carries_seed_prompt_and_a_vgl_structured_prompt(
    http: httpx.Client,
) -> None:
    result = run_sync(http, "/v2/image/generate", {"prompt": "a green lamp", "seed": 9})
    assert result["seed"] == 9 and result["prompt"] == "a green lamp"
    structured = json_of(result["structured_prompt"])
    assert set(structured) >= VGL_KEYS
    assert "green lamp" in structured["short_description"]
    assert structured["objects"] and "description" in structured["objects"][0]


@pytest.mark.parametrize("ratio", ["1:1", "16:9", "9:16", "3:4"])
def test_generation_size_follows_aspect_ratio(http: httpx.Client, ratio: str) -> None:
    result = run_sync(http, "/v2/image/generate", {"prompt": "a cup", "aspect_ratio": ratio})
    width, height = open_url(result["image_url"]).size
    w, h = (int(x) for x in ratio.split(":"))
    assert abs(width / height - w / h) < 0.06


def test_generation_4mp_has_four_times_the_area(http: httpx.Client) -> None:
    one = open_url(run_sync(http, "/v2/image/generate", {"prompt": "a cup"})["image_url"])
    four = open_url(
        run_sync(http, "/v2/image/generate", {"prompt": "a cup", "resolution": "4MP"})["image_url"]
    )
    ratio = (four.width * four.height) / (one.width * one.height)
    assert 3.6 < ratio < 4.4


def test_output_megapixels_scales_generated_pictures(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    small = open_url(run_sync(http, "/v2/image/generate", {"prompt": "a cup"})["image_url"])
    emulator.state.configure(output_megapixels=0.12)
    large = open_url(run_sync(http, "/v2/image/generate", {"prompt": "a cup"})["image_url"])
    assert 3.5 < (large.width * large.height) / (small.width * small.height) < 4.5


def test_output_type_jpeg_gives_a_jpeg(http: httpx.Client) -> None:
    result = run_sync(http, "/v2/image/generate", {"prompt": "a cup", "output_type": "jpeg"})
    assert open_url(result["image_url"]).format == "JPEG"


def test_generation_from_a_structured_prompt_uses_its_description(http: httpx.Client) -> None:
    sp = json.dumps({"short_description": "a yellow taxi"})
    result = run_sync(http, "/v2/image/generate", {"structured_prompt": sp, "seed": 3})
    assert "yellow taxi" in json_of(result["structured_prompt"])["short_description"]


def test_structured_prompt_endpoints_answer_json_strings(http: httpx.Client) -> None:
    made = run_sync(http, "/v2/structured_prompt/generate", {"prompt": "a white boat", "seed": 2})
    assert set(made) >= {"structured_prompt", "seed"} and "image_url" not in made
    assert set(json_of(made["structured_prompt"])) >= VGL_KEYS
    adjusted = json.dumps({"short_description": "a white boat at night"})
    diff = run_sync(
        http,
        "/v2/structured_prompt/generate_from_diff",
        {
            "structured_prompt": made["structured_prompt"],
            "user_adjusted_structured_prompt": adjusted,
        },
    )
    assert json_of(diff["structured_prompt"])["short_description"] == "a white boat at night"


def test_remove_background_gives_png_with_real_alpha(http: httpx.Client) -> None:
    cut = open_url(
        run_sync(http, "/v2/image/edit/remove_background", {"image": b64(product_photo())})[
            "image_url"
        ]
    )
    assert cut.format == "PNG" and cut.mode == "RGBA"
    alpha = cut.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((60, 45)) == 255


def test_increase_resolution_multiplies_the_size(http: httpx.Client) -> None:
    source = product_photo((50, 40))
    for factor in (2, 4):
        result = run_sync(
            http,
            "/v2/image/edit/increase_resolution",
            {"image": b64(source), "desired_increase": factor},
        )
        assert open_url(result["image_url"]).size == (50 * factor, 40 * factor)
    default = run_sync(http, "/v2/image/edit/increase_resolution", {"image": b64(source)})
    assert open_url(default["image_url"]).size == (100, 80)


def test_crop_and_erase_foreground_and_blur(http: httpx.Client) -> None:
    photo = product_photo()
    cropped = open_url(
        run_sync(http, "/v2/image/edit/crop_foreground", {"image": b64(photo)})["image_url"]
    )
    assert cropped.width < photo.width and cropped.height < photo.height
    erased = open_url(
        run_sync(http, "/v2/image/edit/erase_foreground", {"image": b64(photo)})["image_url"]
    )
    assert erased.size == photo.size and erased.convert("RGB").getpixel((60, 45)) != SUBJECT
    blurred = open_url(
        run_sync(http, "/v2/image/edit/blur_background", {"image": b64(photo), "scale": 3})[
            "image_url"
        ]
    )
    assert blurred.convert("RGB").getpixel((60, 45)) == SUBJECT


def test_replace_background_with_a_hex_colour(http: httpx.Client) -> None:
    result = run_sync(
        http,
        "/v2/image/edit/replace_background",
        {"image": b64(product_photo()), "prompt": "#00C000"},
    )
    out = open_url(result["image_url"]).convert("RGB")
    assert out.getpixel((60, 45)) == SUBJECT
    corner = pixel(out, (1, 1))
    assert corner[1] > corner[0] + 60 and corner[1] > corner[2] + 60


def test_expand_to_an_aspect_ratio_and_to_a_canvas(http: httpx.Client) -> None:
    photo = product_photo((80, 80))
    wide = open_url(
        run_sync(http, "/v2/image/edit/expand", {"image": b64(photo), "aspect_ratio": "16:9"})[
            "image_url"
        ]
    )
    assert abs(wide.width / wide.height - 16 / 9) < 0.03 and wide.height >= 80
    canvas = open_url(
        run_sync(
            http,
            "/v2/image/edit/expand",
            {
                "image": b64(photo),
                "canvas_size": [200, 160],
                "original_image_size": [80, 80],
                "original_image_location": [100, 40],
            },
        )["image_url"]
    )
    assert canvas.size == (200, 160)
    assert canvas.convert("RGB").getpixel((140, 80)) == SUBJECT


def test_expand_refuses_a_canvas_over_25_megapixels(http: httpx.Client) -> None:
    answer = http.post(
        "/v2/image/edit/expand",
        json={
            "image": b64(product_photo()),
            "canvas_size": [6000, 6000],
            "original_image_size": [100, 100],
            "original_image_location": [0, 0],
        },
    )
    assert "canvas_size" in error_of(answer, 400)["details"]


def test_erase_and_gen_fill_change_the_masked_area_only(http: httpx.Client) -> None:
    photo = product_photo()
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (40, 30, 80, 60))
    erased = open_url(
        run_sync(http, "/v2/image/edit/erase", {"image": b64(photo), "mask": b64(mask)})[
            "image_url"
        ]
    ).convert("RGB")
    assert erased.getpixel((60, 45)) != SUBJECT
    assert _changed(erased.crop((0, 0, 30, 20)), photo.crop((0, 0, 30, 20))) < 10
    filled = run_sync(
        http,
        "/v2/image/edit/gen_fill",
        {"image": b64(photo), "mask": b64(mask), "prompt": "a blue ball"},
    )
    out = open_url(filled["image_url"]).convert("RGB")
    assert pixel(out, (60, 45))[2] > pixel(out, (60, 45))[0]
    assert filled["prompt"] == "a blue ball" and filled["refined_prompt"]
    unrefined = run_sync(
        http,
        "/v2/image/edit/gen_fill",
        {"image": b64(photo), "mask": b64(mask), "prompt": "a ball", "refine_prompt": False},
    )
    assert "refined_prompt" not in unrefined


def test_a_mask_of_another_aspect_ratio_is_refused(http: httpx.Client) -> None:
    body = {"image": b64(product_photo((120, 90))), "mask": b64(Image.new("L", (90, 90), 255))}
    answer = http.post("/v2/image/edit/erase", json={**body, "sync": True})
    assert "mask" in error_of(answer, 400)["details"]


def test_enhance_is_async_only_and_doubles_the_size(http: httpx.Client) -> None:
    body = {"image": b64(product_photo((60, 40)))}
    error_of(http.post("/v2/image/edit/enhance", json={**body, "sync": True}), 400)
    status = run_async(http, "/v2/image/edit/enhance", body)
    assert status["status"] == "COMPLETED"
    assert open_url(status["result"]["image_url"]).size == (120, 80)


FIBO_EDITS = {
    "/v2/image/edit/add_object_by_text": {"instruction": "a blue vase on the left"},
    "/v2/image/edit/replace_object_by_text": {"instruction": "the ball into a green cube"},
    "/v2/image/edit/erase_by_text": {"object_name": "the ball"},
    "/v2/image/edit/blend": {"instruction": "a pattern on the ball"},
    "/v2/image/edit/reseason": {"season": "winter"},
    "/v2/image/edit/rewrite_text": {"new_text": "SALE"},
    "/v2/image/edit/sketch_to_colored_image": {},
    "/v2/image/edit/restore": {},
    "/v2/image/edit/colorize": {"color": "sepia_vintage"},
    "/v2/image/edit/restyle": {"style": "pop_art_halftone"},
    "/v2/image/edit/relight": {"light_type": "moonlight lighting", "light_direction": "side"},
}


@pytest.mark.parametrize("path", sorted(FIBO_EDITS))
def test_fibo_edits_visibly_transform_the_picture(http: httpx.Client, path: str) -> None:
    photo = product_photo()
    result = run_sync(http, path, {"image": b64(photo), **FIBO_EDITS[path]})
    assert isinstance(result["seed"], int)
    assert _changed(open_url(result["image_url"]), photo) > 2


def test_fibo_image_edit_takes_images_and_an_instruction(http: httpx.Client) -> None:
    photo = product_photo()
    result = run_sync(
        http, "/v2/image/edit", {"images": [b64(photo)], "instruction": "make it blue"}
    )
    assert _changed(open_url(result["image_url"]), photo) > 2
    assert json_of(result["structured_instruction"])


def test_product_cutout_is_tight_and_transparent(http: httpx.Client) -> None:
    photo = product_photo()
    out = open_url(
        run_sync(http, "/v2/image/edit/product/cutout", {"image": b64(photo)})["image_url"]
    )
    assert out.mode == "RGBA" and out.width < photo.width and out.height < photo.height


def test_product_integrate_places_each_product_in_its_box(http: httpx.Client) -> None:
    scene = Image.new("RGB", (200, 150), (20, 60, 20))
    body = {
        "scene": b64(scene),
        "products": [
            {
                "image": b64(product_photo()),
                "coordinates": {"x": 120, "y": 20, "width": 60, "height": 40},
            }
        ],
    }
    out = open_url(run_sync(http, "/v2/image/edit/product/integrate", body)["image_url"]).convert(
        "RGB"
    )
    assert out.size == (200, 150)
    assert out.getpixel((150, 40)) == SUBJECT
    assert out.getpixel((30, 100)) == (20, 60, 20)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v2/image/edit/product/holding", "product_images"),
        ("/v2/image/edit/product/virtual-tryon", "garment_images"),
    ],
)
def test_holding_and_tryon_composite_the_product_on_the_person(
    http: httpx.Client, path: str, field: str
) -> None:
    person = Image.new("RGB", (160, 200), (200, 180, 160))
    status = run_async(http, path, {"person_image": b64(person), field: [b64(product_photo())]})
    assert status["status"] == "COMPLETED", status
    out = open_url(status["result"]["image_url"])
    assert _changed(out, person) > 2


def test_ip_signal_adds_a_warning_for_protected_names(http: httpx.Client) -> None:
    flagged = http.post(
        "/v2/image/generate", json={"prompt": "mickey mouse surfing", "ip_signal": True}
    )
    assert flagged.status_code == 202 and flagged.json()["warning"]
    status = http.get(f"/v2/status/{flagged.json()['request_id']}")
    assert "warning" in status.json() or status.json()["status"] == "IN_PROGRESS"
    plain = http.post("/v2/image/generate", json={"prompt": "mickey mouse surfing"})
    assert "warning" not in plain.json()


def test_prompt_moderation_refuses_flagged_text_unless_switched_off(http: httpx.Client) -> None:
    body = {"prompt": "a [moderate] poster"}
    error = error_of(http.post("/v2/image/generate", json={**body, "sync": True}), 422)
    assert "prompt" in error["details"]
    status = run_async(http, "/v2/image/generate", body)
    assert status["status"] == "ERROR" and status["error"]["code"] == 422
    allowed = run_sync(http, "/v2/image/generate", {**body, "prompt_content_moderation": False})
    assert allowed["image_url"]


def test_unreadable_inputs_get_bria_codes(http: httpx.Client) -> None:
    not_an_image = http.post(
        "/v2/image/edit/remove_background", json={"image": "aGVsbG8gd29ybGQ=", "sync": True}
    )
    assert not_an_image.status_code in (400, 415, 422), not_an_image.text
    unreachable = http.post(
        "/v2/image/edit/remove_background",
        json={"image": "http://127.0.0.1:9/missing.png", "sync": True},
    )
    assert unreachable.status_code == 460, unreachable.text

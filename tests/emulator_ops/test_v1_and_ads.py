"""The v1 surface (synchronous, with its own body shapes) and the ads endpoints."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from PIL import Image

from .helpers import (
    SUBJECT,
    b64,
    encode,
    error_of,
    fetch,
    open_url,
    pixel,
    product_photo,
    run_async,
)


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body)
    assert answer.status_code == 200, answer.text
    value: dict[str, Any] = answer.json()
    return value


def test_v1_cutout_answers_result_url_with_a_transparent_png(http: httpx.Client) -> None:
    body = _post(http, "/v1/product/cutout", {"file": b64(product_photo()), "sync": True})
    assert set(body) == {"result_url"}
    cut = open_url(str(body["result_url"]))
    assert cut.mode == "RGBA" and cut.getchannel("A").getextrema() == (0, 255)


def test_v1_packshot_centres_on_a_white_square(http: httpx.Client) -> None:
    body = _post(http, "/v1/product/packshot", {"file": b64(product_photo())})
    shot = open_url(str(body["result_url"])).convert("RGB")
    assert shot.width == shot.height
    assert shot.getpixel((1, 1)) == (255, 255, 255)
    assert shot.getpixel((shot.width // 2, shot.height // 2)) == SUBJECT
    transparent = _post(
        http,
        "/v1/product/packshot",
        {"file": b64(product_photo()), "background_color": "transparent"},
    )
    assert pixel(open_url(str(transparent["result_url"])), (1, 1))[3] == 0


def test_v1_shadow_draws_a_shadow_under_the_product(http: httpx.Client) -> None:
    body = _post(
        http,
        "/v1/product/shadow",
        {"file": b64(product_photo()), "background_color": "#FFFFFF", "shadow_offset": [0, 12]},
    )
    out = open_url(str(body["result_url"])).convert("RGB")
    assert out.getpixel((1, 1)) == (255, 255, 255)
    below = pixel(out, (60, 3 * 90 // 4 + 6))  # just under the red ellipse
    assert max(below) < 240 and below != SUBJECT


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/v1/product/lifestyle_shot_by_text", {"scene_description": "a marble kitchen"}),
        ("/v1/product/lifestyle_shot_by_image", {"ref_image_urls": ["REF"]}),
        ("/v1/product/vehicle/shot_by_text", {"scene_description": "a coast road"}),
    ],
)
def test_v1_shots_answer_url_seed_session_triples(
    http: httpx.Client, path: str, extra: dict[str, object]
) -> None:
    photo = b64(product_photo())
    if "ref_image_urls" in extra:
        hosted = http.post(
            "/_emulator/files",
            params={"content_type": "image/png", "ext": "png"},
            content=encode(Image.new("RGB", (40, 40), "orange")),
        )
        extra = {"ref_image_urls": [hosted.json()["url"]]}
    body = _post(http, path, {"file": photo, "num_results": 3, "sync": True, **extra})
    assert set(body) == {"result"}
    shots = body["result"]
    assert isinstance(shots, list) and len(shots) == 3
    for url, seed, session in shots:
        assert isinstance(seed, str) and seed.isdigit() and session
        shot = open_url(url)
        assert shot.width > 0
    assert len({shot[0] for shot in shots}) == 3
    assert fetch(shots[0][0]) != fetch(shots[1][0])  # one scene per seed


def test_v1_vehicle_calls_answer_their_shapes(http: httpx.Client) -> None:
    car = b64(product_photo())
    segments = _post(http, "/v1/product/vehicle/segment", {"file": car})
    parts = {"windshield", "rear_window", "side_windows", "body", "wheels", "hubcap", "tires"}
    assert set(segments) == parts
    body_mask = open_url(str(segments["body"]))
    assert body_mask.mode == "L" and body_mask.getpixel((60, 45)) == 255
    assert body_mask.getpixel((1, 1)) == 0
    effect = _post(http, "/v1/product/vehicle/apply_effect", {"file": car, "effect": "snow"})
    assert {"url", "seed"} <= set(effect) and open_url(str(effect["url"]))
    harmonized = _post(http, "/v1/product/vehicle/harmonize", {"file": car, "preset": "warm-day"})
    assert set(harmonized) == {"url"}


def test_v1_body_errors_name_the_field(http: httpx.Client) -> None:
    error = error_of(http.post("/v1/product/packshot", json={}), 400)
    assert "image_url" in error["details"] or "file" in error["details"]
    bad = http.post(
        "/v1/product/lifestyle_shot_by_text",
        json={"file": "x", "scene_description": "a desk", "num_results": 0},
    )
    assert "num_results" in error_of(bad, 400)["details"]


def test_ads_brands_and_templates_list_the_public_sandbox(http: httpx.Client) -> None:
    brands = http.get("/v1/ads/brands").json()
    assert {b["id"] for b in brands} == {167, 166, 122, 121, 120}
    templates = http.get("/v1/ads/templates").json()
    assert {t["id"] for t in templates} == {1061, 1062}
    detail = http.get("/v1/ads/templates/1061").json()
    assert "scene_resolutions" in detail and detail["scene_1"]
    assert http.get("/v1/ads/templates/5").status_code == 404


def test_ads_generate_renders_an_ad(http: httpx.Client) -> None:
    body = _post(
        http,
        "/v1/ads/generate",
        {
            "template_id": "1061",
            "elements": [{"layer_type": "text", "content_type": "Heading #1", "content": "SALE"}],
        },
    )
    (ad,) = body["result"]
    assert set(ad) == {"id", "name", "url", "resolution", "editor_iframe"}
    image = open_url(ad["url"])
    assert (image.width, image.height) == (ad["resolution"]["width"], ad["resolution"]["height"])


def test_ads_resize_makes_one_image_per_format(http: httpx.Client) -> None:
    formats = [
        {"name": "square", "width": 64, "height": 64},
        {"name": "story", "width": 54, "height": 96},
    ]
    status = run_async(
        http, "/v2/ads/resize", {"attachments": [b64(product_photo())], "formats": formats}
    )
    assert status["status"] == "COMPLETED", status
    results = status["result"]["results"]
    assert [r["name"] for r in results] == ["square", "story"]
    for asked, made in zip(formats, results, strict=True):
        assert made["status"] == "ok"
        assert open_url(made["url"]).size == (asked["width"], asked["height"])


def test_ads_delayer_gives_a_json_layer_manifest(http: httpx.Client) -> None:
    status = run_async(http, "/v2/ads/delayer", {"attachments": [b64(product_photo())]})
    manifest = json.loads(fetch(status["result"]["url"]))
    assert manifest["canvas"] == {"width": 120, "height": 90}
    assert {"id", "type", "bbox", "z_order"} <= set(manifest["layers"][0])
    subject = next(layer for layer in manifest["layers"] if layer["id"] == "subject")
    left, top, right, bottom = subject["bbox"]
    assert 20 <= left < right <= 100 and 15 <= top < bottom <= 75


def test_v2_ads_refuse_sync(http: httpx.Client) -> None:
    body = {"attachments": [b64(product_photo())], "sync": True}
    error_of(http.post("/v2/ads/delayer", json=body), 400)

"""The product family: v2 product edits and v1 product shots, cutouts and vehicle endpoints
(whose synchronous v1 answers have their own body shapes)."""

from __future__ import annotations

import uuid

from PIL import Image, ImageOps

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import (
    Body,
    V1Body,
    Work,
    image_input,
    load,
    megapixels,
)
from bria_dagster.emulator.handlers.image_edit import Transform, edit_work


def _packshot(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    side = max(64, int(2000 * megapixels(ctx, {}) ** 0.5))  # Bria: 2000 x 2000
    colour = body.get("background_color") or "#FFFFFF"
    background = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    if colour != "transparent":
        background = Image.new("RGBA", (side, side), (*draw.colour_of(colour), 255))
    return draw.place(image, background, scale=0.8)


def _shadow(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    cut = image if image.mode == "RGBA" else draw.remove_background(image)
    offset = tuple(body.get("shadow_offset") or (0, 15))
    bg = body.get("background_color")
    return draw.shadow(
        cut,
        draw.colour_of(body.get("shadow_color") or "#000000"),
        (int(offset[0]), int(offset[1])),
        int(body.get("shadow_blur") or 15),
        draw.colour_of(bg) if bg else None,
    )


def _composite(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    out = image.convert("RGBA")
    items = body.get("products") or [
        {"image": value} for value in body.get("product_images") or body.get("garment_images") or []
    ]
    for index, item in enumerate(items):
        product = draw.crop_foreground(load(ctx, body, item["image"], f"products[{index}].image"))
        box = item.get("coordinates") or {
            "x": out.width // 4,
            "y": out.height // 4,
            "width": out.width // 2,
            "height": out.height // 2,
        }
        product = ImageOps.contain(product, (max(1, box["width"]), max(1, box["height"])))
        out.alpha_composite(product, (int(box["x"]), int(box["y"])))
    return out


def _shots(ctx: OperationContext, body: Body) -> Body:
    image = image_input(ctx, body)
    count = int(body.get("num_results") or 4)
    urls = []
    for index in range(count):
        scene = draw.scene(
            draw.size_for(body.get("aspect_ratio"), megapixels(ctx, body)),
            body.get("scene_description") or "beige",
            ctx.seed + index,
        )
        urls.append(ctx.store_image(draw.place(image, scene).convert("RGB"), "JPEG"))
    return {"urls": urls, "seed": ctx.seed}


def _vehicle_segment(ctx: OperationContext, body: Body) -> Body:
    mask = draw.subject_mask(image_input(ctx, body))
    url = ctx.store_image(mask, "PNG")
    parts = ("windshield", "rear_window", "side_windows", "body", "wheels", "hubcap", "tires")
    return {part: url if part == "body" else "" for part in parts}


EDITS: dict[str, Transform] = {
    "/v2/image/edit/product/cutout": lambda c, b, i: draw.crop_foreground(i),
    "/v2/image/edit/product/integrate": _composite,
    "/v2/image/edit/product/holding": _composite,
    "/v2/image/edit/product/virtual-tryon": _composite,
    "/v1/product/cutout": lambda c, b, i: draw.remove_background(i),
    "/v1/product/packshot": _packshot,
    "/v1/product/shadow": _shadow,
    "/v1/product/vehicle/generate_reflections": lambda c, b, i: draw.tint(i, (200, 220, 255), 0.15),
    "/v1/product/vehicle/refine_tires": lambda c, b, i: ImageOps.autocontrast(i.convert("RGB")),
    "/v1/product/vehicle/apply_effect": lambda c, b, i: draw.tint(i, (240, 240, 240), 0.3),
    "/v1/product/vehicle/harmonize": lambda c, b, i: draw.tint(
        i, (255, 190, 120) if "warm" in b["preset"] else (150, 180, 255), 0.2
    ),
}
"""The product endpoints that edit one image."""

SHOTS = (
    "/v1/product/lifestyle_shot_by_text",
    "/v1/product/lifestyle_shot_by_image",
    "/v1/product/vehicle/shot_by_text",
)
WORK: dict[str, Work] = {
    **{path: edit_work(transform) for path, transform in EDITS.items()},
    **dict.fromkeys(SHOTS, _shots),
    "/v1/product/vehicle/segment": _vehicle_segment,
}
"""The work of each product endpoint."""


def _shots_body(result: Body) -> Body:
    shots = enumerate(result["urls"])
    return {"result": [[url, str(result["seed"] + i), uuid.uuid4().hex] for i, url in shots]}


V1_BODIES: dict[str, V1Body] = {
    **dict.fromkeys(SHOTS, _shots_body),
    **dict.fromkeys(
        ("/v1/product/cutout", "/v1/product/packshot", "/v1/product/shadow"),
        lambda r: {"result_url": r["image_url"]},
    ),
    "/v1/product/vehicle/segment": lambda r: {k: v for k, v in r.items() if k != "seed"},
    "/v1/product/vehicle/harmonize": lambda r: {"url": r["image_url"]},
    **dict.fromkeys(
        (
            "/v1/product/vehicle/generate_reflections",
            "/v1/product/vehicle/refine_tires",
            "/v1/product/vehicle/apply_effect",
        ),
        lambda r: {"url": r["image_url"], "seed": r["seed"]},
    ),
}
"""How each v1 product endpoint answers its result."""

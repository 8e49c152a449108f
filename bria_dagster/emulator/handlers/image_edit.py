"""Image edit families: ``edit`` and ``enhance`` (v2 edits of one image) and ``fibo_edit``
(instruction edits, which also return a structured description of the result)."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import (
    Body,
    Work,
    image_input,
    load,
    moderate,
)
from bria_dagster.emulator.handlers.generation import (
    EDIT_TEXT_FIELDS,
    edit_text,
    structured_instruction,
)

Transform = Callable[[OperationContext, Body, Image.Image], Image.Image]
"""What an edit does to the input image."""

MAX_UPSCALED_PIXELS = 8192 * 8192
"""``increase_resolution`` output area limit (Bria's OpenAPI)."""
MAX_ENHANCED_PIXELS = 10 * 1024 * 1024
"""``enhance`` output limit: about twice the resolution, at most 10 MP."""
FIBO_EDIT = "/v2/image/edit"


def edit_work(transform: Transform, *, fibo: bool = False) -> Work:
    """The work of an edit endpoint: read the input, ``transform`` it, store the result."""

    def work(ctx: OperationContext, body: Body) -> Body:
        moderate(ctx, body, "prompt", *EDIT_TEXT_FIELDS)
        image = image_input(ctx, body)
        out = transform(ctx, body, image)
        fmt = "JPEG" if body.get("output_type") == "jpeg" and out.mode != "RGBA" else "PNG"
        result: Body = {"image_url": ctx.store_image(out, fmt), "seed": ctx.seed}
        if body.get("prompt"):
            result["prompt"] = body["prompt"]
            if body.get("refine_prompt", True):
                result["refined_prompt"] = f"{body['prompt']}, detailed, natural light"
        if fibo:
            described = structured_instruction(edit_text(body), ctx.seed)
            # /v2/image/edit: the polled result names it structured_prompt (bria-api.md §5.6)
            name = "structured_prompt" if ctx.endpoint == FIBO_EDIT else "structured_instruction"
            result[name] = described
        return result

    return work


def _mask(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    mask = load(ctx, body, body["mask"], "mask")
    if abs(mask.width / mask.height - image.width / image.height) > 0.02:
        raise ApiError(400, "Invalid request", "mask: must have the image's aspect ratio")
    return mask


def _expand(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    if body.get("canvas_size"):
        size = tuple(body["canvas_size"])
        inner = tuple(body.get("original_image_size") or image.size)
        location = tuple(body.get("original_image_location") or (0, 0))
        return draw.expand(image.resize(inner), size, location)
    return draw.expand(image, draw.expanded_size(image, body.get("aspect_ratio") or "1:1"))


def _increase_resolution(body: Body, image: Image.Image) -> Image.Image:
    factor = int(body.get("desired_increase") or 2)
    width, height = image.width * factor, image.height * factor
    if width * height > MAX_UPSCALED_PIXELS:
        raise ApiError(
            400,
            "Invalid request",
            f"desired_increase: {factor}x gives {width}x{height}, over the 8192x8192 area limit",
        )
    return draw.upscale(image, factor)


def _enhance(image: Image.Image) -> Image.Image:
    out = draw.enhance(image)
    if out.width * out.height > MAX_ENHANCED_PIXELS:
        scale = (MAX_ENHANCED_PIXELS / (out.width * out.height)) ** 0.5
        size = (max(1, int(out.width * scale)), max(1, int(out.height * scale)))
        out = out.resize(size, Image.Resampling.LANCZOS)
    return out


EDITS: dict[str, Transform] = {
    "/v2/image/edit/remove_background": lambda c, b, i: draw.remove_background(i),
    "/v2/image/edit/remove_background/guided": lambda c, b, i: draw.remove_background(i),
    "/v2/image/edit/replace_background": lambda c, b, i: draw.replace_background(
        i, b.get("prompt") or "grey", c.seed
    ),
    "/v2/image/edit/blur_background": lambda c, b, i: draw.blur_background(i, b.get("scale") or 5),
    "/v2/image/edit/erase_foreground": lambda c, b, i: draw.erase_foreground(i),
    "/v2/image/edit/crop_foreground": lambda c, b, i: draw.crop_foreground(
        i, b.get("padding") or 0
    ),
    "/v2/image/edit/erase": lambda c, b, i: draw.erase_region(
        i, _mask(c, b, i), draw.border_colour(i)
    ),
    "/v2/image/edit/gen_fill": lambda c, b, i: draw.erase_region(
        i, _mask(c, b, i), draw.colour_of(b.get("prompt"), c.seed)
    ),
    "/v2/image/edit/expand": _expand,
    "/v2/image/edit/enhance": lambda c, b, i: _enhance(i),
    "/v2/image/edit/increase_resolution": lambda c, b, i: _increase_resolution(b, i),
}
"""The ``edit`` and ``enhance`` endpoints."""

FIBO_EDITS: dict[str, Transform] = {
    "/v2/image/edit": lambda c, b, i: draw.annotate(
        draw.tint(i, draw.colour_of(b.get("instruction"), c.seed)), b.get("instruction") or ""
    ),
    "/v2/image/edit/add_object_by_text": lambda c, b, i: draw.add_object(
        i, b["instruction"], c.seed
    ),
    "/v2/image/edit/replace_object_by_text": lambda c, b, i: draw.add_object(
        draw.erase_foreground(i), b["instruction"], c.seed
    ),
    "/v2/image/edit/erase_by_text": lambda c, b, i: draw.erase_foreground(i),
    "/v2/image/edit/blend": lambda c, b, i: draw.tint(i, draw.colour_of(b["instruction"], c.seed)),
    "/v2/image/edit/reseason": lambda c, b, i: draw.tint(
        i,
        {"winter": (230, 240, 255), "autumn": (200, 110, 30), "spring": (120, 200, 120)}.get(
            str(b["season"]), (250, 210, 90)
        ),
    ),
    "/v2/image/edit/rewrite_text": lambda c, b, i: draw.annotate(i, b["new_text"]),
    "/v2/image/edit/sketch_to_colored_image": lambda c, b, i: draw.tint(
        draw.sketch(i), draw.colour_of(b.get("prompt"), c.seed), 0.5
    ),
    "/v2/image/edit/restore": lambda c, b, i: draw.enhance(i).resize(i.size),
    "/v2/image/edit/colorize": lambda c, b, i: (
        ImageOps.grayscale(i).convert("RGB")
        if b["color"] == "black_and_white"
        else draw.tint(i, (112, 66, 20) if b["color"] == "sepia_vintage" else (255, 120, 40), 0.25)
    ),
    "/v2/image/edit/restyle": lambda c, b, i: ImageOps.posterize(i.convert("RGB"), 2),
    "/v2/image/edit/relight": lambda c, b, i: ImageOps.autocontrast(
        draw.tint(i, (255, 230, 170), 0.2)
    ),
}
"""The ``fibo_edit`` endpoints."""

WORK: dict[str, Work] = {
    **{path: edit_work(transform) for path, transform in EDITS.items()},
    **{path: edit_work(transform, fibo=True) for path, transform in FIBO_EDITS.items()},
}
"""The work of each image edit endpoint."""

"""One :class:`JobOperation` per job endpoint of the client's catalog.

Validation is the catalog's own request model (one set of rules for the client and the
emulator); a violation answers 400 in Bria's envelope naming the field. The work is a real image
operation from :mod:`.draw`, chosen by path; results carry the fields Bria returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from bria_dagster.client.catalog import CATALOG, OperationSpec
from bria_dagster.client.errors import BriaInputError
from bria_dagster.emulator.handlers import draw, segment
from bria_dagster.emulator.handlers.tailored import trained_model
from bria_dagster.emulator.registry import WARNING_KEY, ApiError, JobOperation, OperationContext

Body = dict[str, Any]
Work = Callable[[OperationContext, Body], Body]

IP_TRIGGERS = ("mickey mouse", "pikachu", "darth vader")
"""Prompt words that make an ``ip_signal`` request come back with a warning."""

MAX_UPSCALED_PIXELS = 8192 * 8192
"""``increase_resolution`` output area limit (Bria's OpenAPI)."""
MAX_ENHANCED_PIXELS = 10 * 1024 * 1024
"""``enhance`` output limit: about twice the resolution, at most 10 MP."""
MODERATED_INPUT_FAMILIES = frozenset({"generation", "structured_prompt", "fibo_edit"})
"""Families whose ``visual_input_content_moderation`` defaults to true (bria-api.md §1.4);
elsewhere it is off unless the body turns it on."""
MODERATED_INPUT_PATHS = frozenset({"/v2/image/edit/product/integrate"})
FIBO_EDIT = "/v2/image/edit"
EDIT_TEXT_FIELDS = ("instruction", "object_name", "season", "new_text", "color", "style")
"""The field that carries what a FIBO edit does, in the order they are looked for."""


def _megapixels(ctx: OperationContext, body: Body) -> float:
    scale = float(ctx.config.output_megapixels)
    return scale * (4.0 if body.get("resolution") == "4MP" else 1.0)


def structured_prompt(prompt: str | None, seed: int) -> str:
    """A structured prompt (Bria's VGL keys) that describes the drawing ``generate`` makes."""
    subject = prompt or "an object"
    return json.dumps(
        {
            "short_description": subject,
            "objects": [
                {
                    "description": subject,
                    "location": "center",
                    "relative_size": "medium",
                    "shape_and_color": f"a shape coloured {draw.colour_of(prompt, seed)}",
                }
            ],
            "background_setting": "a plain studio background",
            "lighting": {"conditions": "studio", "direction": "front", "shadows": "soft"},
            "aesthetics": {
                "composition": "centered",
                "color_scheme": "simple",
                "mood_atmosphere": "calm",
            },
            "photographic_characteristics": {
                "depth_of_field": "deep",
                "focus": "sharp",
                "camera_angle": "eye level",
                "lens_focal_length": "50mm",
            },
            "style_medium": "photograph",
            "seed": seed,
        }
    )


def _prompt_of(body: Body) -> str | None:
    prompt = body.get("prompt")
    if not prompt and body.get("structured_prompt"):
        try:
            prompt = json.loads(body["structured_prompt"]).get("short_description")
        except (ValueError, AttributeError):
            prompt = None
    return prompt


def _load(ctx: OperationContext, body: Body, value: Any, field: str) -> Image.Image:
    """An input image, moderated when the body (or the endpoint's default) asks for it; v1
    endpoints have one ``content_moderation`` switch."""
    image = ctx.load_image(value, field)
    if body.get("visual_input_content_moderation") or body.get("content_moderation"):
        ctx.check_image_moderation(image, field)
    return image


def _image_input(ctx: OperationContext, body: Body) -> Image.Image:
    for field in ("image", "file", "image_url", "person_image", "scene"):
        if body.get(field):
            return _load(ctx, body, body[field], field)
    for field in ("images", "attachments"):
        if body.get(field):
            return _load(ctx, body, body[field][0], f"{field}[0]")
    raise ApiError(400, "Invalid request", "image: an input image is required")


def _moderate(ctx: OperationContext, body: Body, *fields: str) -> None:
    if body.get("prompt_content_moderation", True):
        for field in fields:
            if isinstance(body.get(field), str):
                ctx.check_moderation(body[field], field)


def _tailored(ctx: OperationContext, body: Body, missing: int = 403) -> None:
    if "tailored_model_id" in body:
        trained_model(ctx.extensions, body["tailored_model_id"], missing)


def _generate(ctx: OperationContext, body: Body) -> Body:
    _tailored(ctx, body)
    _moderate(ctx, body, "prompt", "negative_prompt")
    prompt = _prompt_of(body)
    size = draw.size_for(body.get("aspect_ratio"), _megapixels(ctx, body))
    if body.get("images"):
        base = _load(ctx, body, body["images"][0], "images[0]")
        image = draw.tint(base.resize(size), draw.colour_of(prompt, ctx.seed))
    else:
        image = draw.generate(prompt, ctx.seed, size)
    fmt = "JPEG" if body.get("output_type") == "jpeg" else "PNG"
    return {
        "image_url": ctx.store_image(image, fmt),
        "seed": ctx.seed,
        "prompt": body.get("prompt"),
        "structured_prompt": structured_prompt(prompt, ctx.seed),
    }


def structured_instruction(instruction: str, seed: int) -> str:
    """A structured instruction: the edit and the structured prompt of the edited picture."""
    described = json.loads(structured_prompt(instruction, seed))
    return json.dumps({"edit_instruction": instruction, **described})


def _edit_text(body: Body) -> str:
    for field in EDIT_TEXT_FIELDS:
        if isinstance(body.get(field), str) and body[field]:
            return str(body[field])
    if body.get("light_type"):
        return f"relight: {body['light_type']}, {body.get('light_direction') or 'front'}"
    return str(body.get("prompt") or "edit the image")


def _instruction(ctx: OperationContext, body: Body) -> Body:
    _moderate(ctx, body, "instruction")
    _load(ctx, body, body["images"][0], "images[0]")
    return {
        "structured_instruction": structured_instruction(_edit_text(body), ctx.seed),
        "seed": ctx.seed,
    }


def _structured(ctx: OperationContext, body: Body) -> Body:
    _tailored(ctx, body)
    _moderate(ctx, body, "prompt")
    prompt = _prompt_of(body) or body.get("instruction")
    if body.get("user_adjusted_structured_prompt"):
        return {"structured_prompt": body["user_adjusted_structured_prompt"], "seed": ctx.seed}
    return {"structured_prompt": structured_prompt(prompt, ctx.seed), "seed": ctx.seed}


def _edit(
    transform: Callable[[OperationContext, Body, Image.Image], Image.Image], *, fibo: bool = False
) -> Work:
    def work(ctx: OperationContext, body: Body) -> Body:
        _moderate(ctx, body, "prompt", *EDIT_TEXT_FIELDS)
        image = _image_input(ctx, body)
        out = transform(ctx, body, image)
        fmt = "JPEG" if body.get("output_type") == "jpeg" and out.mode != "RGBA" else "PNG"
        result: Body = {"image_url": ctx.store_image(out, fmt), "seed": ctx.seed}
        if body.get("prompt"):
            result["prompt"] = body["prompt"]
            if body.get("refine_prompt", True):
                result["refined_prompt"] = f"{body['prompt']}, detailed, natural light"
        if fibo:
            described = structured_instruction(_edit_text(body), ctx.seed)
            # /v2/image/edit: the polled result names it structured_prompt (bria-api.md §5.6)
            name = "structured_prompt" if ctx.endpoint == FIBO_EDIT else "structured_instruction"
            result[name] = described
        return result

    return work


def _mask(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    mask = _load(ctx, body, body["mask"], "mask")
    if abs(mask.width / mask.height - image.width / image.height) > 0.02:
        raise ApiError(400, "Invalid request", "mask: must have the image's aspect ratio")
    return mask


def _expand(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    if body.get("canvas_size"):
        size = tuple(body["canvas_size"])
        inner = tuple(body.get("original_image_size") or image.size)
        location = tuple(body.get("original_image_location") or (0, 0))
        return draw.expand(image.resize(inner), size, location)  # type: ignore[arg-type]
    return draw.expand(image, draw.expanded_size(image, body.get("aspect_ratio") or "1:1"))


def _packshot(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    side = max(64, int(2000 * _megapixels(ctx, {}) ** 0.5))  # Bria: 2000 x 2000
    colour = body.get("background_color") or "#FFFFFF"
    background = draw.Image.new("RGBA", (side, side), (0, 0, 0, 0))
    if colour != "transparent":
        background = draw.Image.new("RGBA", (side, side), (*draw.colour_of(colour), 255))
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


def _lifestyle(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    size = draw.size_for(body.get("aspect_ratio"), _megapixels(ctx, body))
    scene = draw.scene(size, body.get("scene_description") or "beige", ctx.seed)
    return draw.place(image, scene)


def _composite(ctx: OperationContext, body: Body, image: Image.Image) -> Image.Image:
    out = image.convert("RGBA")
    items = body.get("products") or [
        {"image": value} for value in body.get("product_images") or body.get("garment_images") or []
    ]
    for index, item in enumerate(items):
        product = draw.crop_foreground(_load(ctx, body, item["image"], f"products[{index}].image"))
        box = item.get("coordinates") or {
            "x": out.width // 4,
            "y": out.height // 4,
            "width": out.width // 2,
            "height": out.height // 2,
        }
        product = draw.ImageOps.contain(product, (max(1, box["width"]), max(1, box["height"])))
        out.alpha_composite(product, (int(box["x"]), int(box["y"])))
    return out


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
        out = out.resize(size, draw.Image.Resampling.LANCZOS)
    return out


EDITS: dict[str, Callable[[OperationContext, Body, Image.Image], Image.Image]] = {
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
        draw.ImageOps.grayscale(i).convert("RGB")
        if b["color"] == "black_and_white"
        else draw.tint(i, (112, 66, 20) if b["color"] == "sepia_vintage" else (255, 120, 40), 0.25)
    ),
    "/v2/image/edit/restyle": lambda c, b, i: draw.ImageOps.posterize(i.convert("RGB"), 2),
    "/v2/image/edit/relight": lambda c, b, i: draw.ImageOps.autocontrast(
        draw.tint(i, (255, 230, 170), 0.2)
    ),
    "/v2/image/edit/product/cutout": lambda c, b, i: draw.crop_foreground(i),
    "/v2/image/edit/product/integrate": _composite,
    "/v2/image/edit/product/holding": _composite,
    "/v2/image/edit/product/virtual-tryon": _composite,
    "/v1/product/cutout": lambda c, b, i: draw.remove_background(i),
    "/v1/product/packshot": _packshot,
    "/v1/product/shadow": _shadow,
    "/v1/product/vehicle/generate_reflections": lambda c, b, i: draw.tint(i, (200, 220, 255), 0.15),
    "/v1/product/vehicle/refine_tires": lambda c, b, i: draw.ImageOps.autocontrast(
        i.convert("RGB")
    ),
    "/v1/product/vehicle/apply_effect": lambda c, b, i: draw.tint(i, (240, 240, 240), 0.3),
    "/v1/product/vehicle/harmonize": lambda c, b, i: draw.tint(
        i, (255, 190, 120) if "warm" in b["preset"] else (150, 180, 255), 0.2
    ),
}


def _shots(ctx: OperationContext, body: Body) -> Body:
    image = _image_input(ctx, body)
    count = int(body.get("num_results") or 4)
    urls = []
    for index in range(count):
        scene = draw.scene(
            draw.size_for(body.get("aspect_ratio"), _megapixels(ctx, body)),
            body.get("scene_description") or "beige",
            ctx.seed + index,
        )
        urls.append(ctx.store_image(draw.place(image, scene).convert("RGB"), "JPEG"))
    return {"urls": urls, "seed": ctx.seed}


def _vehicle_segment(ctx: OperationContext, body: Body) -> Body:
    mask = draw.subject_mask(_image_input(ctx, body))
    url = ctx.store_image(mask, "PNG")
    parts = ("windshield", "rear_window", "side_windows", "body", "wheels", "hubcap", "tires")
    return {part: url if part == "body" else "" for part in parts}


def _ads_generate(ctx: OperationContext, body: Body) -> Body:
    size = draw.size_for("1:1", _megapixels(ctx, body))
    texts = [str(e.get("content")) for e in body.get("elements") or [] if e.get("content")]
    image = draw.generate(" ".join(texts) or "advert", ctx.seed, size)
    for text in texts[:1]:
        image = draw.annotate(image, text)
    url = None
    if body.get("content_moderation"):
        try:
            for text in texts:
                ctx.check_moderation(text, "elements")
        except ApiError:  # Bria: "failed ads are replaced with zero-byte files"
            url = ctx.store_bytes(b"", "image/png", "png")
    return {
        "ads": [
            {
                "id": uuid.uuid4().int % 10**8,
                "name": f"template {body['template_id']}",
                "url": url or ctx.store_image(image, "PNG"),
                "resolution": {"width": size[0], "height": size[1]},
                "editor_iframe": "",
            }
        ]
    }


def _ads_resize(ctx: OperationContext, body: Body) -> Body:
    image = _image_input(ctx, body)
    results = []
    for spec in body["formats"]:
        out = draw.expand(image, draw.expanded_size(image, spec["width"] / spec["height"]))
        out = out.resize((int(spec["width"]), int(spec["height"])))
        results.append({**spec, "status": "ok", "strategy": "expand", "url": ctx.store_image(out)})
    return {"results": results}


def _ads_delayer(ctx: OperationContext, body: Body) -> Body:
    image = _image_input(ctx, body)
    manifest = {
        "canvas": {"width": image.width, "height": image.height},
        "layers": [
            {
                "id": "background",
                "type": "image",
                "bbox": [0, 0, image.width, image.height],
                "z_order": 0,
            },
            {
                "id": "subject",
                "type": "image",
                "bbox": list(draw.subject_mask(image).getbbox() or (0, 0, 0, 0)),
                "z_order": 1,
            },
        ],
        "font_stylesheets": [],
    }
    return {"url": ctx.store_bytes(json.dumps(manifest).encode(), "application/json", "json")}


VIDEO_BACKGROUNDS = {
    "Transparent": None,
    "Black": (0, 0, 0),
    "White": (255, 255, 255),
    "Gray": (128, 128, 128),
    "Red": (255, 0, 0),
    "Green": (0, 255, 0),
    "Blue": (0, 0, 255),
    "Yellow": (255, 255, 0),
    "Cyan": (0, 255, 255),
    "Magenta": (255, 0, 255),
    "Orange": (255, 165, 0),
}
GREEN_SHADES = {
    "broadcast_green": (0, 177, 64),
    "chroma_green": (0, 255, 0),
    "blue_screen": (0, 0, 255),
}
MAX_VIDEO_PIXELS = 7680 * 4320
"""Video increase_resolution refuses outputs above 8K (bria-api.md §5.7)."""
Frames = list[Image.Image]


def _clip(ctx: OperationContext, body: Body, field: str) -> Frames:
    """The frames of a video input: an animation or still image is read for real; a real video
    container (Pillow cannot decode one) is stood in for by a generated clip."""
    frames = draw.frames_of(ctx.load_bytes(body[field], field))
    if frames is None:
        still = draw.generate(body.get("prompt") or "video", ctx.seed, (128, 128))
        frames = draw.spin(still)
    return frames


def _on(frames: Frames, colour: tuple[int, int, int] | None) -> Frames:
    """Each frame's subject on a flat ``colour`` (None: transparent)."""
    cut = [draw.remove_background(frame) for frame in frames]
    if colour is None:
        return cut
    return [Image.alpha_composite(Image.new("RGBA", f.size, (*colour, 255)), f) for f in cut]


def _upscaled(frames: Frames, body: Body) -> Frames:
    factor = int(body.get("desired_increase") or 2)
    width, height = frames[0].width * factor, frames[0].height * factor
    if width * height > MAX_VIDEO_PIXELS:
        raise ApiError(422, "Invalid request", "desired_increase: the result would exceed 8K")
    return [draw.upscale(frame, factor) for frame in frames]


def _new_background(ctx: OperationContext, body: Body, frames: Frames) -> Frames:
    try:
        backdrop = _clip(ctx, body, "background_url")[0]
    except ApiError as error:  # Bria answers an unreachable background with 422
        raise ApiError(422, "Invalid background", error.details) from None
    cut = [draw.remove_background(frame) for frame in frames]
    fitted = draw.ImageOps.fit(backdrop, cut[0].size).convert("RGBA")
    return [Image.alpha_composite(fitted, frame) for frame in cut]


VIDEO_EDITS: dict[str, Callable[[OperationContext, Body, Frames], Frames]] = {
    "/v2/video/edit/remove_background": lambda c, b, f: _on(
        f, VIDEO_BACKGROUNDS.get(str(b.get("background_color") or "Black"), (0, 0, 0))
    ),
    "/v2/video/edit/increase_resolution": lambda c, b, f: _upscaled(f, b),
    "/v2/video/edit/green_screen": lambda c, b, f: _on(
        f, GREEN_SHADES[str(b.get("green_shade") or "broadcast_green")]
    ),
    "/v2/video/edit/replace_background": _new_background,
    "/v2/video/edit/erase": lambda c, b, f: [draw.erase_foreground(frame) for frame in f],
}


def _video_for(path: str) -> Work:
    edit = VIDEO_EDITS.get(path)

    def work(ctx: OperationContext, body: Body) -> Body:
        if "video" in body:
            frames = _clip(ctx, body, "video")
            if "mask" in body:
                _clip(ctx, body, "mask")
        else:  # image-to-video: the picture, animated
            _tailored(ctx, body, missing=404)
            frames = draw.spin(_load(ctx, body, body["image"], "image"))
        frames = edit(ctx, body, frames) if edit else frames
        return {"video_url": ctx.store_bytes(draw.encode_clip(frames), "image/gif", "gif")}

    return work


def _video_mask(ctx: OperationContext, body: Body) -> Body:
    masks = [draw.subject_mask(frame).convert("RGB") for frame in _clip(ctx, body, "video")]
    return {"mask_url": ctx.store_bytes(draw.encode_clip(masks), "image/gif", "gif")}


def _attribution(ctx: OperationContext, body: Body) -> Body:
    return {"content": [{"name": "Bria licensed dataset", "share": 1.0}]}


SPECIAL: dict[str, Work] = {
    "/v1/product/lifestyle_shot_by_text": _shots,
    "/v1/product/lifestyle_shot_by_image": _shots,
    "/v1/product/vehicle/shot_by_text": _shots,
    "/v1/product/vehicle/segment": _vehicle_segment,
    "/v1/ads/generate": _ads_generate,
    "/v2/ads/resize": _ads_resize,
    "/v2/ads/delayer": _ads_delayer,
    "/v2/image/segment/all_masks": segment.all_masks,
}


def _work_for(spec: OperationSpec) -> Work | None:
    if spec.path in SPECIAL:
        return SPECIAL[spec.path]
    if spec.path in EDITS:
        return _edit(EDITS[spec.path], fibo=spec.family == "fibo_edit")
    if spec.result_kind == "structured_instruction":
        return _instruction
    if spec.result_kind == "structured_prompt" and spec.path.startswith("/v2/"):
        return _structured
    if spec.family == "generation":
        return _generate
    if spec.family == "video" and spec.result_kind == "mask":
        return _video_mask
    if spec.name.startswith("attribution."):
        return _attribution
    if spec.result_kind == "video":
        return _video_for(spec.path)
    return None


def _validator(spec: OperationSpec) -> Callable[[Body], Body]:
    model = spec.request_model
    assert model is not None

    def validate(body: Body) -> Body:
        try:
            model.parse(body)
        except BriaInputError as exc:
            raise ApiError(400, "Invalid request", str(exc)) from None
        checked = dict(body)
        if spec.family in MODERATED_INPUT_FAMILIES or spec.path in MODERATED_INPUT_PATHS:
            checked.setdefault("visual_input_content_moderation", True)
        text = f"{body.get('prompt') or ''} {body.get('instruction') or ''}".lower()
        if body.get("ip_signal") and any(word in text for word in IP_TRIGGERS):
            checked[WARNING_KEY] = "The prompt may refer to protected intellectual property"
        return checked

    return validate


def _image_fields(spec: OperationSpec) -> tuple[str, ...]:
    """The request model's image inputs, and a v1 ``image_url`` (typed as a plain URL)."""
    model = spec.request_model
    assert model is not None
    fields = model.image_fields()
    return (*fields, "image_url") if "image_url" in model.model_fields else fields


def _v1_body(spec: OperationSpec) -> Callable[[Body], Any] | None:
    if spec.family == "product" and spec.result_kind == "images":
        return lambda r: {
            "result": [
                [url, str(r["seed"] + i), uuid.uuid4().hex] for i, url in enumerate(r["urls"])
            ]
        }
    if spec.path == "/v1/ads/generate":
        return lambda r: {"result": r["ads"]}
    if spec.path == "/v1/product/vehicle/segment":
        return lambda r: {k: v for k, v in r.items() if k != "seed"}
    if spec.path == "/v1/product/vehicle/harmonize":
        return lambda r: {"url": r["image_url"]}
    if spec.path.startswith("/v1/product/vehicle/"):
        return lambda r: {"url": r["image_url"], "seed": r["seed"]}
    if spec.path.startswith("/v1/"):
        return lambda r: {"result_url": r["image_url"]}
    return None


def _fibo_sync_result(result: Body) -> Body:
    """FIBO ``/v2/image/edit`` answers ``structured_instruction`` when sync (bria-api.md §5.6)."""
    renamed = {k: v for k, v in result.items() if k != "structured_prompt"}
    if "structured_prompt" in result:
        renamed["structured_instruction"] = result["structured_prompt"]
    return renamed


def job_operations() -> list[JobOperation]:
    """A JobOperation for every catalog operation that makes a job (CRUD routes excepted)."""
    operations = []
    for spec in CATALOG.values():
        if spec.method != "POST" or "{" in spec.path or spec.path.startswith("/v1/tailored-gen"):
            continue
        work = _work_for(spec)
        if work is None:
            continue
        operations.append(
            JobOperation(
                path=spec.path,
                family=spec.family,
                sync=spec.sync,
                validate=_validator(spec),
                execute=work,
                v1_body=_v1_body(spec),
                image_fields=_image_fields(spec),
                sync_result=_fibo_sync_result if spec.path == FIBO_EDIT else None,
            )
        )
    return operations

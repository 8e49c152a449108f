"""Generation families: images (``generation``), structured prompts and instructions
(``structured_prompt``), and the structured descriptions FIBO edits return."""

from __future__ import annotations

import json

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import (
    Body,
    Work,
    check_tailored,
    load,
    megapixels,
    moderate,
)

EDIT_TEXT_FIELDS = ("instruction", "object_name", "season", "new_text", "color", "style")
"""The field that carries what a FIBO edit does, in the order they are looked for."""


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


def _generate(ctx: OperationContext, body: Body) -> Body:
    check_tailored(ctx, body)
    moderate(ctx, body, "prompt", "negative_prompt")
    prompt = _prompt_of(body)
    size = draw.size_for(body.get("aspect_ratio"), megapixels(ctx, body))
    if body.get("images"):
        base = load(ctx, body, body["images"][0], "images[0]")
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


def edit_text(body: Body) -> str:
    for field in EDIT_TEXT_FIELDS:
        if isinstance(body.get(field), str) and body[field]:
            return str(body[field])
    if body.get("light_type"):
        return f"relight: {body['light_type']}, {body.get('light_direction') or 'front'}"
    return str(body.get("prompt") or "edit the image")


def _instruction(ctx: OperationContext, body: Body) -> Body:
    moderate(ctx, body, "instruction")
    load(ctx, body, body["images"][0], "images[0]")
    return {
        "structured_instruction": structured_instruction(edit_text(body), ctx.seed),
        "seed": ctx.seed,
    }


def _structured(ctx: OperationContext, body: Body) -> Body:
    check_tailored(ctx, body)
    moderate(ctx, body, "prompt")
    prompt = _prompt_of(body) or body.get("instruction")
    if body.get("user_adjusted_structured_prompt"):
        return {"structured_prompt": body["user_adjusted_structured_prompt"], "seed": ctx.seed}
    return {"structured_prompt": structured_prompt(prompt, ctx.seed), "seed": ctx.seed}


WORK: dict[str, Work] = {
    "/v2/image/generate": _generate,
    "/v2/image/generate/lite": _generate,
    "/v2/image/generate/tailored": _generate,
    "/v2/structured_prompt/generate": _structured,
    "/v2/structured_prompt/generate/lite": _structured,
    "/v2/structured_prompt/generate/tailored": _structured,
    "/v2/structured_prompt/generate_from_diff": _structured,
    "/v2/structured_instruction/generate": _instruction,
}
"""The work of each generation endpoint."""

"""The FIBO edit family: ``/v2/image/edit`` by instruction, structured instructions, and the
one-purpose edits (add/replace/erase object by text, blend, reseason, rewrite text, sketch to
image, restore, colorize, restyle, relight).

Sources: Bria's OpenAPI ``image-editing.yml`` and bria-api.md §5.6. Moderation defaults to true.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, model_validator

from bria_dagster.client.types.base import JobRequest, RuleViolation, forbid_together
from bria_dagster.client.types.fields import (
    OPEN_ENUM,
    AspectRatio,
    Flag,
    ImageInput,
    JsonObjectText,
    OutputType,
    Seed,
    Text,
)

Season = Literal["spring", "summer", "autumn", "winter"]
Colorization = Literal["color_contemporary", "color_vivid", "black_and_white", "sepia_vintage"]
RestyleStyle = Literal[
    "render_3d",
    "cubism",
    "oil_painting",
    "anime",
    "cartoon",
    "coloring_book",
    "retro_ad",
    "pop_art_halftone",
    "vector_art",
    "story_board",
    "art_nouveau",
    "cross_etching",
    "wood_cut",
]
LightType = Literal[
    "midday",
    "blue hour light",
    "low-angle sunlight",
    "sunrise light",
    "spotlight on subject, keep background settings",
    "overcast light",
    "soft overcast daylight lighting",
    "cloud-filtered lighting",
    "fog-diffused lighting",
    "moonlight lighting",
    "starlight lighting nighttime",
    "soft bokeh lighting",
    "harsh studio lighting keep background setting",
]
LightDirection = Literal["front", "side", "bottom", "top-down"]


class ImageEditRequest(JobRequest):
    """``POST /v2/image/edit``: edit by a text ``instruction`` or a ``structured_instruction``.

    Exactly one of ``instruction`` / ``structured_instruction``. The spec says ``images`` holds
    exactly one image; bria-mcp sends 1-4 (addressed as "image 1", "image 2", ... in the
    instruction, with ``aspect_ratio`` honoured only for two or more), so 1-4 are accepted.
    An optional ``mask`` (white = edit) must have the image's size.
    """

    spec_notes = {
        "images": "spec: exactly one image; bria-mcp sends up to 4 — 1-4 accepted",
        "aspect_ratio": "absent from the spec; bria-mcp sends it for multi-image edits",
    }

    images: Annotated[list[ImageInput], Field(min_length=1, max_length=4)]
    """The image(s) to edit: public URL or base64."""
    instruction: Text | None = None
    """The edit, e.g. "make the sky blue"."""
    structured_instruction: JsonObjectText | None = None
    """A structured edit instruction (JSON), e.g. from ``/v2/structured_instruction/generate``."""
    mask: ImageInput | None = None
    """Optional binary mask (white = edit, black = keep), same size as the image."""
    negative_prompt: Text | None = None
    guidance_scale: Annotated[StrictInt, Field(ge=3, le=5)] | None = None
    """Instruction adherence, 3-5 (default 5)."""
    model_version: Literal["FIBO-edit"] | None = None
    """Pin the model; omit for the current default."""
    steps_num: Annotated[StrictInt, Field(ge=20, le=50)] | None = None
    """Diffusion steps, 20-50 (default 30)."""
    seed: Seed | None = None
    output_type: OutputType | None = None
    aspect_ratio: AspectRatio | None = None
    """Output ratio for multi-image edits (ignored with a single image)."""
    ip_signal: Flag | None = None
    """If true, a ``warning`` is returned when the instruction looks like protected IP."""
    prompt_content_moderation: Flag | None = None
    """Default true."""
    visual_input_content_moderation: Flag | None = None
    """Default true."""
    visual_output_content_moderation: Flag | None = None
    """Default true."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.instruction is None and self.structured_instruction is None:
            raise RuleViolation(
                "instruction", "required: provide instruction or structured_instruction"
            )
        forbid_together(self, "instruction", "structured_instruction", "provide one or the other")
        return self


class StructuredInstructionRequest(JobRequest):
    """``POST /v2/structured_instruction/generate``: turn an instruction (and optional mask)
    into a structured edit instruction, without editing."""

    instruction: Text
    """The edit, e.g. "add a cat"."""
    images: Annotated[list[ImageInput], Field(min_length=1, max_length=1)]
    """Exactly one source image."""
    mask: ImageInput | None = None
    """Optional binary mask focusing the instruction on a region."""
    seed: Seed | None = None
    ip_signal: Flag | None = None
    prompt_content_moderation: Flag | None = None
    """Default true."""
    visual_input_content_moderation: Flag | None = None
    """Default true."""


class _OneImageEdit(JobRequest):
    image: ImageInput
    """The source image: public URL or base64 (JPEG, PNG, WEBP)."""


class AddObjectRequest(_OneImageEdit):
    """``POST /v2/image/edit/add_object_by_text``: insert an object described in words."""

    instruction: Text
    """What to add and where, e.g. "a red vase with flowers on the table"."""


class ReplaceObjectRequest(_OneImageEdit):
    """``POST /v2/image/edit/replace_object_by_text``: swap one object for another."""

    instruction: Text
    """E.g. "replace the red apple with a green pear"."""


class EraseObjectRequest(_OneImageEdit):
    """``POST /v2/image/edit/erase_by_text``: remove the named object."""

    object_name: Text
    """The object to remove, e.g. "the lamp"."""


class BlendRequest(_OneImageEdit):
    """``POST /v2/image/edit/blend``: merge, texture or rearrange by instruction."""

    spec_notes = {"overlay": "absent from the spec; Bria's agent skill sends an overlay image"}

    instruction: Text
    """E.g. "place the art on the shirt, keep the art exactly the same"."""
    overlay: ImageInput | None = None
    """Optional second image to blend in."""


class ReseasonRequest(_OneImageEdit):
    """``POST /v2/image/edit/reseason``: change the season or weather."""

    season: Annotated[Season | Text, OPEN_ENUM]
    """spring, summer, autumn, winter, or free text (the API documents both)."""


class RewriteTextRequest(_OneImageEdit):
    """``POST /v2/image/edit/rewrite_text``: replace the text shown in the image."""

    new_text: Text
    """The new text."""


class SketchToImageRequest(_OneImageEdit):
    """``POST /v2/image/edit/sketch_to_colored_image``: a photorealistic image from a sketch."""

    spec_notes = {"prompt": "absent from the spec; Bria's agent skill sends an optional prompt"}

    prompt: Text | None = None
    """Optional guidance."""


class RestoreRequest(_OneImageEdit):
    """``POST /v2/image/edit/restore``: remove noise, scratches and blur from old photos."""


class ColorizeRequest(_OneImageEdit):
    """``POST /v2/image/edit/colorize``: colour a black-and-white photo, or the reverse.

    Bria's agent skill writes the values as "contemporary color" etc.; the spec's IDs are used.
    """

    color: Colorization
    """color_contemporary, color_vivid, black_and_white or sepia_vintage."""


class RestyleRequest(_OneImageEdit):
    """``POST /v2/image/edit/restyle``: change the artistic style."""

    style: Annotated[RestyleStyle | Text, OPEN_ENUM]
    """A preset style ID or a free-text description (the API documents both)."""


class RelightRequest(_OneImageEdit):
    """``POST /v2/image/edit/relight``: change the lighting."""

    light_type: Annotated[LightType | Text, OPEN_ENUM]
    """A preset lighting or free text (the spec's description gives "sunset", "neon"...)."""
    light_direction: LightDirection | None = None
    """front, side, bottom or top-down."""

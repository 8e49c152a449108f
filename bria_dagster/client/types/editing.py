"""Classic (model-based) image edits under ``/v2/image/edit/``.

Background removal (plain and guided), replace and blur background, erase and crop foreground,
erase by mask, generative fill, expand, enhance and increase resolution. Sources: Bria's OpenAPI
``image-editing.yml`` and bria-api.md §5.6. Visual moderation defaults to false here.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, model_validator

from bria_dagster.client.types.base import (
    AsyncOnlyRequest,
    JobRequest,
    RuleViolation,
    forbid_together,
)
from bria_dagster.client.types.fields import (
    AspectRatio,
    Flag,
    ImageInput,
    NonNegativeInt,
    OptionalText,
    Point,
    Seed,
    Size,
    Text,
)

MAX_CANVAS_AREA = 5000 * 5000
"""Largest expand canvas (width x height); Bria answers 400 above it."""


class _ImageEdit(JobRequest):
    """One input image, alpha handling and visual moderation (all default off but alpha)."""

    image: ImageInput
    """The source image: public URL or base64 (JPEG, PNG, WEBP)."""
    visual_input_content_moderation: Flag | None = None
    """Default false: 422 if the input image fails moderation."""
    visual_output_content_moderation: Flag | None = None
    """Default false: 422 if the result fails moderation."""


class _AlphaEdit(_ImageEdit):
    preserve_alpha: Flag | None = None
    """Default true: keep the input's transparency in the output."""


class RemoveBackgroundRequest(_AlphaEdit):
    """``POST /v2/image/edit/remove_background``: RMBG 2.0 cut-out with a soft alpha matte."""


class GuidedRemoveBackgroundRequest(_AlphaEdit):
    """``POST /v2/image/edit/remove_background/guided``: keep what the prompt names.

    Not in Bria's OpenAPI files (bria-mcp, Comfy-Org docs). 404 when not enabled for the
    organisation; a blank prompt is a plain cut-out billed at the guided price.
    """

    spec_notes = {"prompt": "endpoint absent from the spec (bria-mcp editing.py)"}

    prompt: OptionalText | None = None
    """What to keep or drop, e.g. "the person with the mat"."""


class ReplaceBackgroundRequest(JobRequest):
    """``POST /v2/image/edit/replace_background``: a new background from text or references.

    Exactly one of ``prompt`` (text, or a hex colour such as ``#FF5733``) and ``ref_images``.
    ``negative_prompt`` is not available in ``fast`` mode.
    """

    spec_notes = {"ref_images": "typed string in the spec; its description also allows a list"}

    image: ImageInput
    """The source image: public URL or base64."""
    mode: Literal["base", "high_control", "fast"] | None = None
    """Generation mode for text backgrounds (default high_control)."""
    prompt: Text | None = None
    """The new scene, or a hex colour for a solid background."""
    ref_images: ImageInput | Annotated[list[ImageInput], Field(min_length=1)] | None = None
    """One or more reference images guiding the background."""
    enhance_ref_images: Flag | None = None
    """Default true: adapt the reference images for best results."""
    refine_prompt: Flag | None = None
    """Default true: rewrite the prompt for best results."""
    prompt_content_moderation: Flag | None = None
    """Default true: 422 if the prompt fails moderation."""
    negative_prompt: Text | None = None
    """What to keep out of the scene (not in fast mode)."""
    original_quality: Flag | None = None
    """Default false (output scaled to 1 MP); true keeps the input's size."""
    force_background_detection: Flag | None = None
    """Default false: re-segment even if the input already has alpha."""
    visual_output_content_moderation: Flag | None = None
    """Default false: 422 if the result fails moderation."""
    seed: Seed | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.prompt is None and self.ref_images is None:
            raise RuleViolation("prompt", "required: provide prompt or ref_images")
        forbid_together(self, "prompt", "ref_images", "provide one or the other")
        if self.negative_prompt is not None and self.mode == "fast":
            raise RuleViolation("negative_prompt", "not available with mode 'fast'")
        return self


class BlurBackgroundRequest(_AlphaEdit):
    """``POST /v2/image/edit/blur_background``."""

    scale: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    """Blur strength 1-5 (default 5)."""


class EraseForegroundRequest(_AlphaEdit):
    """``POST /v2/image/edit/erase_foreground``: remove the main subject and fill the gap."""


class CropForegroundRequest(_AlphaEdit):
    """``POST /v2/image/edit/crop_foreground``: remove the background and crop to the subject."""

    padding: NonNegativeInt | None = None
    """Pixels of padding kept around the subject (default 0)."""
    force_background_detection: Flag | None = None
    """Default false: re-segment even if the input already has alpha."""


class EraseRequest(_AlphaEdit):
    """``POST /v2/image/edit/erase``: erase the white region of a binary mask."""

    spec_notes = {
        "composite": "absent from the spec; bria-mcp sends it (false = context-aware erase that "
        "also removes shadows/reflections, true = pixel-perfect outside the mask)"
    }

    mask: ImageInput
    """Binary mask, white (255) = erase; same aspect ratio as the image."""
    mask_type: Literal["manual", "automatic"] | None = None
    """``manual`` (default; brush-drawn) or ``automatic`` (from a segmentation model)."""
    composite: Flag | None = None
    """Pixel-perfect compositing outside the mask."""


class GenFillRequest(_AlphaEdit):
    """``POST /v2/image/edit/gen_fill``: generate the prompt's object inside the mask."""

    mask: ImageInput
    """Binary mask, white (255) = where to generate; same aspect ratio as the image."""
    prompt: Text
    """What to generate in the masked region (about 90-110 words at most)."""
    refine_prompt: Flag | None = None
    """Default true: rewrite the prompt (returned as ``refined_prompt``)."""
    prompt_content_moderation: Flag | None = None
    """Default true: 422 if the prompt fails moderation."""
    negative_prompt: Text | None = None
    seed: Seed | None = None


ExpandRatio = AspectRatio | Annotated[float, Field(strict=True, ge=0.5, le=3.0)]


class ExpandRequest(_AlphaEdit):
    """``POST /v2/image/edit/expand``: outpaint to an aspect ratio or onto a canvas.

    Give either ``aspect_ratio`` (a standard ratio or a number 0.5-3.0) or both
    ``original_image_size`` and ``original_image_location`` (with ``canvas_size``, default
    1000x1000, at most 25 MP). The API ignores the canvas fields when ``aspect_ratio`` is given;
    this model refuses the mix instead of letting values be silently dropped.
    """

    spec_notes = {
        "aspect_ratio": "the spec types it string|number; the model lists the std9 strings and "
        "bounds the number to 0.5-3.0 as the description says"
    }

    aspect_ratio: ExpandRatio | None = None
    """Target ratio: "16:9"-style string or a number between 0.5 and 3.0."""
    canvas_size: Size | None = None
    """Output ``[width, height]`` (default [1000, 1000]); area at most 25 MP."""
    original_image_size: Size | None = None
    """``[width, height]`` of the original inside the canvas."""
    original_image_location: Point | None = None
    """``[x, y]`` of the original's top-left corner (may lie outside: it is cropped)."""
    prompt: OptionalText | None = None
    """Guides the expansion; empty or omitted = written automatically."""
    prompt_content_moderation: Flag | None = None
    """Default true: 422 if the prompt fails moderation."""
    negative_prompt: Text | None = None
    seed: Seed | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        placed = [
            name
            for name in ("canvas_size", "original_image_size", "original_image_location")
            if getattr(self, name) is not None
        ]
        if self.aspect_ratio is not None:
            if placed:
                raise RuleViolation(placed[0], "cannot be combined with aspect_ratio")
            return self
        for name in ("original_image_size", "original_image_location"):
            if getattr(self, name) is None:
                raise RuleViolation(
                    name, "required when aspect_ratio is not given (with its size/location pair)"
                )
        if self.canvas_size is not None:
            width, height = self.canvas_size
            if width * height > MAX_CANVAS_AREA:
                raise RuleViolation("canvas_size", "area must be at most 25,000,000 pixels")
        return self


class EnhanceRequest(AsyncOnlyRequest):
    """``POST /v2/image/edit/enhance``: regenerate with finer detail at about twice the size.

    Asynchronous only (``sync=true`` is refused); the output is at most 10 MP.
    """

    spec_notes = {
        "steps_num": "absent from the spec; Bria's ComfyUI nodes send 10-50 (default 20)",
        "resolution": "absent from the spec; Bria's ComfyUI nodes send 1MP|2MP|4MP",
    }

    image: ImageInput
    """The source image: public URL or base64."""
    seed: Seed | None = None
    preserve_alpha: Flag | None = None
    """Default true: keep the input's transparency."""
    visual_input_content_moderation: Flag | None = None
    visual_output_content_moderation: Flag | None = None
    steps_num: Annotated[StrictInt, Field(ge=10, le=50)] | None = None
    """Diffusion steps, 10-50."""
    resolution: Literal["1MP", "2MP", "4MP"] | None = None
    """Target resolution."""


class IncreaseResolutionRequest(_AlphaEdit):
    """``POST /v2/image/edit/increase_resolution``: upscale without regeneration (<= 8192x8192)."""

    spec_notes = {
        "desired_increase": "the spec types an integer and lists 2 and 4 in its description"
    }

    desired_increase: Literal[2, 4] | None = None
    """Scale factor, 2 (default) or 4."""

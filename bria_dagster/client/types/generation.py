"""FIBO image generation and structured prompts: ``/v2/image/generate*``,
``/v2/structured_prompt/*``.

Sources: Bria's OpenAPI ``image-generation.yml`` and bria-api.md §5.1.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import Field, StrictInt, model_validator

from bria_dagster.client.types.base import (
    JobRequest,
    RuleViolation,
    forbid_together,
    require_one_of,
)
from bria_dagster.client.types.fields import (
    AspectRatio,
    ExtendedAspectRatio,
    Flag,
    ImageInput,
    JsonObjectText,
    OutputType,
    Seed,
    Text,
)

FiboStyle = Literal["kodak_film", "hard_flash", "hazy_dreamy", "rough_realism"]
"""Photographic styles of FIBO text-to-image (bria-mcp ``fibo.py``)."""

GuidanceScale = Annotated[StrictInt, Field(ge=3, le=5)]
ReferenceImages = Annotated[list[ImageInput], Field(min_length=1, max_length=1)]
_EXTENDED_RATIOS = frozenset(get_args(ExtendedAspectRatio))


class _FiboInputs(JobRequest):
    """The FIBO input triple and the options every FIBO bridge endpoint shares."""

    prompt: Text | None = None
    """Text instruction: alone, or refining ``images`` / ``structured_prompt``."""
    images: ReferenceImages | None = None
    """One reference image (URL or base64; JPEG, PNG, WEBP)."""
    structured_prompt: JsonObjectText | None = None
    """A structured prompt (JSON) from an earlier result, to recreate or refine it."""
    seed: Seed | None = None
    """Seed for deterministic output; random if omitted."""
    ip_signal: Flag | None = None
    """If true, a ``warning`` is returned when the prompt looks like protected IP."""
    prompt_content_moderation: Flag | None = None
    """Default true: 422 if the prompt fails moderation."""
    visual_input_content_moderation: Flag | None = None
    """Default true: 422 if an input image fails moderation."""

    def _check_inputs(self, *, structured_alone: bool) -> None:
        require_one_of(self, "prompt", "images", "structured_prompt")
        forbid_together(self, "structured_prompt", "images")
        if not structured_alone and self.structured_prompt is not None and self.prompt is None:
            raise RuleViolation(
                "prompt", "required with structured_prompt here (refine = structured_prompt+prompt)"
            )


class _FiboImageOptions(_FiboInputs):
    model_version: Literal["FIBO"] | None = None
    """Pin the model version; omit to use Bria's current default."""
    output_type: OutputType | None = None
    """``png`` (default) or ``jpeg``."""
    visual_output_content_moderation: Flag | None = None
    """Default true: 422 if the output fails moderation."""


class GenerateImageRequest(_FiboImageOptions):
    """``POST /v2/image/generate``: FIBO text/image-to-image.

    Inputs, exactly one combination: ``prompt`` | ``images`` | ``images``+``prompt`` |
    ``structured_prompt`` (recreate, with ``seed``) | ``structured_prompt``+``prompt`` (refine).
    ``images`` never goes with ``structured_prompt``. ``style`` is text-to-image only. The FIBO 2.0
    aspect ratios (16:10 … 1:5) need ``resolution`` 1MP, exactly one of ``prompt`` /
    ``structured_prompt``, and no ``images``.
    """

    spec_notes = {
        "guidance_scale": "absent from the spec; sent by Bria's ComfyUI nodes (3-5, default 5)",
        "style": "absent from the spec; FIBO text-to-image styles sent by bria-mcp",
        "aspect_ratio": "adds the FIBO 2.0 extended ratios (Comfy-Org docs) to the spec's std9",
    }

    resolution: Literal["1MP", "4MP"] | None = None
    """``1MP`` (default) or ``4MP`` (finer detail, about 30 s slower)."""
    negative_prompt: Text | None = None
    """Concepts to keep out of the image."""
    aspect_ratio: AspectRatio | ExtendedAspectRatio | None = None
    """Default 1:1. Standard nine, or FIBO 2.0 extended ratios (see the class rules)."""
    steps_num: Annotated[StrictInt, Field(ge=35, le=50)] | None = None
    """Diffusion steps, 35-50 (default 50)."""
    guidance_scale: GuidanceScale | None = None
    """Prompt adherence, 3-5 (default 5)."""
    style: FiboStyle | None = None
    """Photographic style; text-to-image only (not with images or structured_prompt)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_inputs(structured_alone=True)
        if self.style is not None:
            forbid_together(self, "images", "style", "style is text-to-image only")
            forbid_together(self, "structured_prompt", "style", "style is text-to-image only")
        if self.aspect_ratio in _EXTENDED_RATIOS:
            if self.resolution == "4MP":
                raise RuleViolation("aspect_ratio", "extended ratios need resolution 1MP")
            if self.images is not None:
                raise RuleViolation("aspect_ratio", "extended ratios are not for image input")
            if self.prompt is not None and self.structured_prompt is not None:
                raise RuleViolation(
                    "aspect_ratio", "extended ratios need exactly one of prompt/structured_prompt"
                )
        return self


class GenerateImageLiteRequest(_FiboImageOptions):
    """``POST /v2/image/generate/lite``: the fast FIBO Lite pipeline (same input rules as
    :class:`GenerateImageRequest`; no resolution, negative prompt or style)."""

    spec_notes = {
        "steps_num": "absent from the spec; Bria's ComfyUI nodes send 8-30",
        "guidance_scale": "absent from the spec; Bria's ComfyUI nodes send 3-5",
    }

    aspect_ratio: AspectRatio | None = None
    """Default 1:1."""
    steps_num: Annotated[StrictInt, Field(ge=8, le=30)] | None = None
    """Diffusion steps, 8-30."""
    guidance_scale: GuidanceScale | None = None
    """Prompt adherence, 3-5."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_inputs(structured_alone=True)
        return self


class StructuredPromptRequest(_FiboInputs):
    """``POST /v2/structured_prompt/generate``: write (or refine) a structured prompt, no image.

    Inputs: ``prompt`` | ``images`` | ``images``+``prompt`` | ``structured_prompt``+``prompt``.
    """

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_inputs(structured_alone=False)
        return self


class StructuredPromptLiteRequest(StructuredPromptRequest):
    """``POST /v2/structured_prompt/generate/lite``: the same, with the open FIBO-VLM bridge."""


class StructuredPromptFromDiffRequest(JobRequest):
    """``POST /v2/structured_prompt/generate_from_diff``: a new structured prompt from the
    difference between an original and a hand-edited one."""

    structured_prompt: JsonObjectText
    """The original structured prompt (JSON)."""
    user_adjusted_structured_prompt: JsonObjectText
    """The user's edited version (JSON)."""
    seed: Seed | None = None
    model_version: Literal["FIBO"] | None = None

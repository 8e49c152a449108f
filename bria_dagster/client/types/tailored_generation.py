"""Generation with a trained tailored model (v2): images, structured prompts, image-to-video.

Sources: Bria's OpenAPI ``tailored-generation.yml`` and bria-api.md §5.3.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from bria_dagster.client.types.base import (
    AsyncOnlyRequest,
    JobRequest,
    RuleViolation,
    require_one_of,
)
from bria_dagster.client.types.fields import (
    AspectRatio,
    Flag,
    IdText,
    ImageInput,
    JsonObjectText,
    Seed,
    Text,
)


class TailoredGenerateRequest(JobRequest):
    """``POST /v2/image/generate/tailored``: an image in your trained visual identity.

    Inputs: ``prompt`` | ``structured_prompt`` with ``seed`` (exact recreation) |
    ``structured_prompt``+``prompt`` (refinement). 403 if the model is not your organisation's.
    """

    spec_notes = {
        "tailored_model_id": "a string in the spec; the integer ids of the models API are accepted",
    }

    tailored_model_id: IdText
    """The tailored model's id."""
    tailored_model_influence: Annotated[float, Field(strict=True, ge=0, le=1.5)] | None = None
    """Strength of the tailored model, 0-1.5 (default 1)."""
    prompt: Text | None = None
    structured_prompt: JsonObjectText | None = None
    negative_prompt: Text | None = None
    guidance_scale: Annotated[StrictInt, Field(ge=3, le=5)] | None = None
    """Prompt adherence, 3-5 (default 5)."""
    aspect_ratio: AspectRatio | None = None
    steps_num: Annotated[StrictInt, Field(ge=20, le=50)] | None = None
    """Diffusion steps, 20-50 (default 50)."""
    seed: Seed | None = None
    prompt_content_moderation: Flag | None = None
    """Default true."""
    visual_output_content_moderation: Flag | None = None
    """Default true."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "prompt", "structured_prompt")
        if self.prompt is None and self.seed is None:
            raise RuleViolation("seed", "required to recreate from a structured_prompt alone")
        return self


class TailoredStructuredPromptRequest(JobRequest):
    """``POST /v2/structured_prompt/generate/tailored``: a structured prompt in the model's
    visual schema. Inputs: ``prompt`` | ``structured_prompt``+``prompt``."""

    spec_notes = {
        "tailored_model_id": "a string in the spec; the integer ids of the models API are accepted",
        "prompt": "required here: every documented input combination includes it",
    }

    tailored_model_id: IdText
    prompt: Text
    structured_prompt: JsonObjectText | None = None
    """A previous structured prompt to refine with ``prompt``."""
    seed: Seed | None = None
    prompt_content_moderation: Flag | None = None
    """Default true."""


class TailoredImageToVideoRequest(AsyncOnlyRequest):
    """``POST /v2/video/generate/tailored/image-to-video`` (beta): animate an image made by the
    tailored model into a 5-second MP4. Asynchronous only."""

    spec_notes = {
        "tailored_model_id": "a string in the spec; the integer ids of the models API are accepted",
    }

    tailored_model_id: IdText
    image: ImageInput
    """The source image: public URL or base64."""
    seed: Seed | None = None

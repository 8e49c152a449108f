"""Ads: v1 template-based generation (with brands, a smart image and text/image elements) and
the v2 flat-ad tools (delayer: an ad into layers; resize: an ad into other formats).

Sources: Bria's OpenAPI ``ad-generation.yml``, bria-api.md §5.4 (v2 from bria-mcp ``ads.py``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, StrictStr, model_validator

from bria_dagster.client.types.base import (
    AsyncOnlyRequest,
    BriaRequest,
    RuleViolation,
    forbid_together,
    require_one_of,
)
from bria_dagster.client.types.fields import (
    URL_PATTERN,
    Flag,
    HttpUrl,
    IdText,
    ImageInput,
    PositiveInt,
    Text,
)

PUBLIC_TEMPLATES = {"1061": "brand-independent", "1062": "needs a brand"}
"""Bria's public sandbox templates (public and private assets cannot be mixed)."""
PUBLIC_BRANDS = ("120", "121", "122", "166", "167")
"""Bria's public sandbox brands."""

_URL = re.compile(URL_PATTERN)


class AdScene(BriaRequest):
    """How the smart image's background is made."""

    spec_notes = {"operation": "required here: a scene without an operation means nothing"}

    operation: Literal["expand_image", "lifestyle_shot_by_text"]
    """``expand_image`` (outpaint the input) or ``lifestyle_shot_by_text`` (a new scene)."""
    input: Text | None = None
    """For lifestyle_shot_by_text: the scene description or a hex colour (required there)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.operation == "lifestyle_shot_by_text" and self.input is None:
            raise RuleViolation("input", "required with operation lifestyle_shot_by_text")
        return self


class SmartImage(BriaRequest):
    """The ad's main image and how its background is produced.

    The spec's schema requires ``main_object_url`` while its properties and example use
    ``input_image_url``; either name is accepted (one of them is required).
    """

    spec_notes = {
        "input_image_url": "the spec requires main_object_url but documents input_image_url",
        "main_object_url": "the spec's required name; accepted as an alternative",
    }

    input_image_url: HttpUrl | None = None
    """Public URL of the main object image."""
    main_object_url: HttpUrl | None = None
    """Alternative name of ``input_image_url``."""
    scene: AdScene | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "input_image_url", "main_object_url")
        forbid_together(self, "input_image_url", "main_object_url", "they name the same input")
        return self


class AdElement(BriaRequest):
    """Content for one template layer, named by ``content_type`` ("Heading #1", "Body #2",
    "Image #1"...) or by layer ``id``. Empty ``content`` hides the layer."""

    spec_notes = {"id": "a string in the spec; the integer layer ids of templates are accepted"}

    layer_type: Literal["text", "image"] | None = None
    content_type: Text | None = None
    content: StrictStr | None = None
    """Text, an image URL, or "" to hide the layer."""
    id: IdText | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.layer_type == "image" and self.content and not _URL.match(self.content):
            raise RuleViolation("content", "an image layer's content must be an http(s) URL")
        return self


class AdsGenerateRequest(BriaRequest):
    """``POST /v1/ads/generate``: every scene of a template, filled with your content.

    ``brand_id`` is required unless the template is brand-independent (public template 1061).
    The answer's ad URLs are placeholders until each file is rendered.
    """

    spec_notes = {
        "template_id": "required here (the spec lists none); an int id is accepted as text",
        "brand_id": "a string in the spec; the integer ids of the brands listing are accepted",
    }

    template_id: IdText
    """Template to render (public: 1061 brand-free, 1062 needs a brand)."""
    brand_id: IdText | None = None
    """Brand applied to all scenes (public: 120, 121, 122, 166, 167)."""
    smart_image: SmartImage | None = None
    elements: list[AdElement] | None = None
    """Text and image content for the template's layers."""
    content_moderation: Flag | None = None
    """Default false: moderate inputs; failed ads become zero-byte files."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.template_id == "1062" and self.brand_id is None:
            raise RuleViolation("brand_id", "required with public template 1062")
        if self.template_id in PUBLIC_TEMPLATES and self.brand_id not in (None, *PUBLIC_BRANDS):
            raise RuleViolation("brand_id", "public templates only work with public brands")
        return self


AdImage = Annotated[list[ImageInput], Field(min_length=1, max_length=1)]


class AdsDelayerRequest(AsyncOnlyRequest):
    """``POST /v2/ads/delayer``: split a flat ad into a JSON layer manifest (2-3 minutes).

    Not in Bria's OpenAPI files (bria-mcp ``ads.py``). Result: ``url`` of the manifest.
    """

    spec_notes = {"attachments": "endpoint absent from the spec (bria-mcp ads.py)"}

    attachments: AdImage
    """The ad image (one)."""
    output_format: Literal["json"] | None = None
    """``json`` (the layer manifest)."""
    thinking_effort: Literal["low", "medium", "high"] | None = None
    prompt: Text | None = None


class AdFormat(BriaRequest):
    """A target format of :class:`AdsResizeRequest`."""

    name: Text
    width: PositiveInt
    height: PositiveInt


class AdsResizeRequest(AsyncOnlyRequest):
    """``POST /v2/ads/resize``: re-lay an ad out for 1-10 other formats (up to 20 minutes).

    Not in Bria's OpenAPI files (bria-mcp ``ads.py``). Result: ``results`` with one entry per
    format (``name``, ``width``, ``height``, ``status``, ``url``).
    """

    spec_notes = {"attachments": "endpoint absent from the spec (bria-mcp ads.py)"}

    attachments: AdImage
    """The ad image (one)."""
    formats: Annotated[list[AdFormat], Field(min_length=1, max_length=10)]
    prompt: Text | None = None

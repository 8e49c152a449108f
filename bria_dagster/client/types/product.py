"""Product imagery: v1 cutout, packshot, shadow, lifestyle shots and the automotive calls; v2
cutout, integrate (embed products in a scene), holding and virtual try-on.

Sources: Bria's OpenAPI ``product-shot-editing.yml`` and bria-api.md §5.5. The v1 calls answer
synchronously; their result URLs expire after one hour.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, StrictInt, WithJsonSchema, model_validator

from bria_dagster.client.types.base import (
    AsyncOnlyRequest,
    BriaRequest,
    JobRequest,
    RuleViolation,
    forbid_together,
    require_one_of,
)
from bria_dagster.client.types.fields import (
    AspectRatio,
    Flag,
    HexColor,
    HttpUrl,
    ImageInput,
    NonNegativeInt,
    OutputType,
    Point,
    PositiveInt,
    Seed,
    Size,
    Text,
)

PlacementType = Literal[
    "original",
    "automatic",
    "manual_placement",
    "manual_padding",
    "custom_coordinates",
    "automatic_aspect_ratio",
]
ManualPlacement = Literal[
    "upper_left",
    "upper_right",
    "bottom_left",
    "bottom_right",
    "right_center",
    "left_center",
    "upper_center",
    "bottom_center",
    "center_vertical",
    "center_horizontal",
]
ShotMode = Literal["base", "high_control", "fast"]
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

# Which placement type each placement parameter belongs to (others are ignored by the API, so the
# model refuses them rather than letting a value be dropped silently).
_PLACEMENT_PARAMS: dict[str, tuple[str, ...]] = {
    "original_quality": ("original",),
    "aspect_ratio": ("automatic_aspect_ratio",),
    "shot_size": ("automatic", "manual_placement", "custom_coordinates"),
    "foreground_image_size": ("custom_coordinates",),
    "foreground_image_location": ("custom_coordinates",),
    "manual_placement_selection": ("manual_placement",),
    "padding_values": ("manual_padding",),
}
_PLACEMENT_REQUIRED: dict[str, tuple[str, ...]] = {
    "custom_coordinates": ("foreground_image_size", "foreground_image_location"),
    "automatic_aspect_ratio": ("aspect_ratio",),
}


def _one_as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


RefImageUrls = Annotated[
    list[HttpUrl],
    BeforeValidator(_one_as_list),
    Field(min_length=1, max_length=1),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
                {"type": "string"},
            ]
        }
    ),
]


class _V1Image(BriaRequest):
    """A v1 call on one image: ``image_url`` or ``file`` (base64), not both."""

    spec_notes = {
        "sync": "not in the spec for every v1 call; Bria's v1 callers (ComfyUI nodes, BriAPI "
        "demos) send it explicitly, as the client does"
    }

    sync: Flag | None = None
    """v1 response mode: true answers with finished result URLs, false with placeholder URLs
    that fill in later. The client sends true unless ``placement_type`` is ``automatic``."""
    image_url: HttpUrl | None = None
    """Public URL of the image (JPEG, PNG, WEBP; at most 12 MB)."""
    file: ImageInput | None = None
    """The image itself (sent as base64): path, bytes, PIL image or base64 string."""

    def _check_image(self) -> None:
        require_one_of(self, "image_url", "file")
        forbid_together(self, "image_url", "file", "the API would ignore file")

    def _default_sync(self) -> bool:
        return True

    def with_client_defaults(self) -> Self:
        """Send ``sync`` explicitly, as v1 callers should (bria-api.md §1.4)."""
        if self.sync is not None:
            return self
        return self.model_copy(update={"sync": self._default_sync()})


class _V1Product(_V1Image):
    sku: Text | None = None
    """Your stock-keeping unit, echoed for bookkeeping."""
    force_rmbg: Flag | None = None
    """Default false: remove the background even if the input already has alpha."""
    content_moderation: Flag | None = None
    """Default false: 422 if the input or output fails moderation."""


class ProductCutoutV1Request(_V1Product):
    """``POST /v1/product/cutout``: cut the product out (answer: ``result_url``)."""

    preserve_alpha: Flag | None = None
    """Default true: keep the input's transparency."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class PackshotRequest(_V1Product):
    """``POST /v1/product/packshot``: a 2000x2000 packshot on a clean background."""

    spec_notes = {"background_color": "a hex colour or 'transparent', as the description says"}

    background_color: HexColor | Literal["transparent"] | None = None
    """Hex colour (default #FFFFFF) or ``transparent``."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class ShadowRequest(_V1Product):
    """``POST /v1/product/shadow``: add a shadow to a product cut-out (input must have alpha).

    ``shadow_width`` and ``shadow_height`` shape floating shadows only.
    """

    spec_notes = {"type": "the spec types a string; its description lists regular and float"}

    type: Literal["regular", "float"] | None = None
    """``regular`` (default) or ``float``."""
    background_color: HexColor | None = None
    """Background colour; omit for a transparent background."""
    shadow_color: HexColor | None = None
    """Default #000000."""
    shadow_offset: Point | None = None
    """``[x, y]`` offset in pixels (default [0, 15])."""
    shadow_intensity: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    """0-100 (default 60)."""
    shadow_blur: NonNegativeInt | None = None
    """Edge blur (default 15 regular, 20 float)."""
    shadow_width: StrictInt | None = None
    """Floating shadows: ellipse width in pixels (default: the product's width)."""
    shadow_height: StrictInt | None = None
    """Floating shadows: ellipse height in pixels (default 70)."""
    preserve_alpha: Flag | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        if self.type != "float":
            for name in ("shadow_width", "shadow_height"):
                if getattr(self, name) is not None:
                    raise RuleViolation(name, "only for type 'float' shadows")
        return self


class _Placement(_V1Image):
    """A v1 shot: the product's placement (``placement_type`` and its parameters)."""

    num_results: PositiveInt | None = None
    """Shots per placement (default 4)."""
    placement_type: PlacementType | None = None
    """How the product is placed (default ``original``)."""
    original_quality: Flag | None = None
    """``original`` only: keep the input's size instead of 1 MP."""
    aspect_ratio: AspectRatio | None = None
    """``automatic_aspect_ratio`` only (and required there)."""
    shot_size: Size | None = None
    """Final ``[width, height]`` (default [1000, 1000]) for automatic, manual_placement and
    custom_coordinates."""
    foreground_image_size: Size | None = None
    """``custom_coordinates``: product ``[width, height]`` (required there)."""
    foreground_image_location: Point | None = None
    """``custom_coordinates``: product top-left ``[x, y]`` (required there)."""
    manual_placement_selection: Annotated[list[ManualPlacement], Field(min_length=1)] | None = None
    """``manual_placement``: one or more positions (default ["upper_left"])."""
    padding_values: Annotated[list[NonNegativeInt], Field(min_length=4, max_length=4)] | None = None
    """``manual_padding``: ``[left, right, top, bottom]`` in pixels."""

    @property
    def effective_placement(self) -> str:
        """The placement type the API applies (``original`` when not given)."""
        return self.placement_type or "original"

    def _check_placement(self) -> None:
        placement = self.effective_placement
        for name, allowed in _PLACEMENT_PARAMS.items():
            if getattr(self, name) is not None and placement not in allowed:
                raise RuleViolation(name, f"only used with placement_type {' or '.join(allowed)}")
        for name in _PLACEMENT_REQUIRED.get(placement, ()):
            if getattr(self, name) is None:
                raise RuleViolation(name, f"required with placement_type {placement}")
        if placement == "automatic" and self.sync:
            raise RuleViolation("sync", "must be false with placement_type automatic")

    def _default_sync(self) -> bool:
        return self.effective_placement != "automatic"  # automatic placement requires false


class _ShotByText(_Placement):
    scene_description: Text
    """The scene (about 50-60 words; 90-110 for high_control), or a hex colour for a solid
    background (then ``num_results`` must be 1)."""
    optimize_description: Flag | None = None
    """Default true: rewrite the description for best results."""
    exclude_elements: Text | None = None
    """What to keep out of the scene (not in fast mode)."""
    force_rmbg: Flag | None = None
    content_moderation: Flag | None = None

    def _check_text_shot(self, mode: str | None) -> None:
        self._check_image()
        self._check_placement()
        if _HEX_COLOR.match(self.scene_description) and self.num_results != 1:
            raise RuleViolation("num_results", "must be 1 when scene_description is a hex colour")
        if self.exclude_elements is not None and mode == "fast":
            raise RuleViolation("exclude_elements", "not available with mode 'fast'")


class LifestyleShotByTextRequest(_ShotByText):
    """``POST /v1/product/lifestyle_shot_by_text``: place the product in a described scene.

    Answer: ``result`` = ``[[url, seed, session_id], ...]``. Placement parameters are accepted
    only with their ``placement_type`` (the API would ignore them otherwise).
    """

    spec_notes = {"scene_description": "required here: the spec lists no required fields"}

    sku: Text | None = None
    mode: ShotMode | None = None
    """``fast`` (default), ``base`` or ``high_control``."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_text_shot(self.mode or "fast")
        return self


class VehicleShotByTextRequest(_ShotByText):
    """``POST /v1/product/vehicle/shot_by_text``: a vehicle in a described scene (same rules
    as :class:`LifestyleShotByTextRequest`, default mode ``high_control``, no ``sku``)."""

    spec_notes = {"scene_description": "required here: the spec lists no required fields"}

    mode: ShotMode | None = None
    """``high_control`` (default), ``base`` or ``fast``."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_text_shot(self.mode or "high_control")
        return self


class LifestyleShotByImageRequest(_Placement):
    """``POST /v1/product/lifestyle_shot_by_image``: a scene guided by one reference image.

    Give ``ref_image_urls`` or ``ref_image_file`` (one image; a single string is accepted as the
    spec's examples send it). The spec's own example also sends ``optimize_description``.
    """

    spec_notes = {
        "optimize_description": "absent from the spec's properties but used in its example",
        "ref_image_urls": "one image only (the spec's ref_image_file note); a string is accepted",
        "ref_image_file": "one image only, as the spec's description says",
    }

    sku: Text | None = None
    ref_image_urls: RefImageUrls | None = None
    """Public URL of the reference image (a list of one, or the string)."""
    ref_image_file: Annotated[list[ImageInput], Field(min_length=1, max_length=1)] | None = None
    """The reference image itself (sent as base64)."""
    enhance_ref_image: Flag | None = None
    """Default true: adapt the reference for realism."""
    ref_image_influence: Annotated[float, Field(strict=True, ge=0, le=1)] | None = None
    """0 (loose) to 1 (close, the default) resemblance to the reference."""
    optimize_description: Flag | None = None
    force_rmbg: Flag | None = None
    content_moderation: Flag | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        self._check_placement()
        require_one_of(self, "ref_image_urls", "ref_image_file")
        forbid_together(self, "ref_image_urls", "ref_image_file", "the API would ignore the file")
        return self


class VehicleSegmentRequest(_V1Image):
    """``POST /v1/product/vehicle/segment``: masks of windshield, windows, body, wheels...

    Answer: one URL per part (empty when the part is not found).
    """

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class ReflectionMasks(BriaRequest):
    """Mask URLs (from :class:`VehicleSegmentRequest`) of the regions that get reflections."""

    windshield: HttpUrl | None = None
    rear_window: HttpUrl | None = None
    side_windows: HttpUrl | None = None
    body: HttpUrl | None = None
    wheels: HttpUrl | None = None


class TireMasks(BriaRequest):
    """Mask URL of all tires."""

    tires: HttpUrl | None = None


class VehicleReflectionsRequest(_V1Image):
    """``POST /v1/product/vehicle/generate_reflections``: realistic reflections on glass and
    paint. Answer: ``url``, ``seed`` and, with ``layers``, one layer per region."""

    spec_notes = {"masks": "the spec types a free object; its description lists the keys"}

    masks: ReflectionMasks | None = None
    layers: Flag | None = None
    """Also return one image per region."""
    seed: Seed | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class VehicleRefineTiresRequest(_V1Image):
    """``POST /v1/product/vehicle/refine_tires``: tire textures matching snow, mud or grass."""

    masks: TireMasks | None = None
    layers: Flag | None = None
    """Return only the refined wheels layer."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class VehicleEffectRequest(_V1Image):
    """``POST /v1/product/vehicle/apply_effect``: dust, snow, fog, light leaks or lens flare."""

    spec_notes = {"effect": "typed string in the spec; required and limited to the listed values"}

    effect: Literal["dust", "snow", "fog", "light leaks", "lens flare"]
    layers: Flag | None = None
    """Default false: return only the effect layer when true."""
    seed: Seed | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


class VehicleHarmonizeRequest(_V1Image):
    """``POST /v1/product/vehicle/harmonize``: lighting/tone presets.

    The spec's overview names hot-day/hot-night, its parameter text warm-day/warm-night; the
    parameter text is followed.
    """

    spec_notes = {"preset": "typed string in the spec; required and limited to the listed values"}

    preset: Literal["warm-day", "cold-day", "warm-night", "cold-night"]

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_image()
        return self


ModerationThreshold = Annotated[float, Field(strict=True, ge=0, le=100)]


class ProductCutoutRequest(JobRequest):
    """``POST /v2/image/edit/product/cutout``: background removed, tightly cropped product."""

    spec_notes = {
        "visual_input_content_moderation_threshold": "bounded 0-100 (the spec gives default 80)",
        "visual_output_content_moderation_threshold": "bounded 0-100 (the spec gives default 80)",
    }

    image: ImageInput
    """The product image: public URL or base64 (at most 12 MB)."""
    sku: Text | None = None
    preserve_alpha: Flag | None = None
    force_background_detection: Flag | None = None
    """Default false: re-segment even if the input already has alpha."""
    output_type: OutputType | None = None
    visual_input_content_moderation: Flag | None = None
    visual_input_content_moderation_threshold: ModerationThreshold | None = None
    visual_output_content_moderation: Flag | None = None
    visual_output_content_moderation_threshold: ModerationThreshold | None = None


class Coordinates(BriaRequest):
    """Where a product goes in the scene; applied to its tight cut-out."""

    x: StrictInt
    y: StrictInt
    width: PositiveInt
    height: PositiveInt


class IntegratedProduct(BriaRequest):
    """One product to embed: its image (alpha = no automatic cut-out) and placement."""

    image: ImageInput
    coordinates: Coordinates


class ProductIntegrateRequest(JobRequest):
    """``POST /v2/image/edit/product/integrate``: embed products into a scene, matching its
    light and perspective."""

    scene: ImageInput
    """The scene image: public URL or base64."""
    products: Annotated[list[IntegratedProduct], Field(min_length=1)]
    """One or more products with their coordinates."""
    seed: Seed | None = None
    visual_input_content_moderation: Flag | None = None
    """Default true."""
    visual_output_content_moderation: Flag | None = None
    """Default true."""


class ProductHoldingRequest(AsyncOnlyRequest):
    """``POST /v2/image/edit/product/holding``: a person holding the product(s).

    Not in Bria's OpenAPI files (bria-mcp, Comfy-Org docs); asynchronous only.
    """

    spec_notes = {"person_image": "endpoint absent from the spec (bria-mcp, Comfy-Org docs)"}

    person_image: ImageInput
    product_images: Annotated[list[ImageInput], Field(min_length=1, max_length=3)]
    """One to three product images."""
    instruction: Text | None = None
    aspect_ratio: AspectRatio | None = None
    """Default: the person image's ratio."""
    output_type: OutputType | None = None
    seed: Seed | None = None
    visual_output_content_moderation: Flag | None = None


class VirtualTryOnRequest(AsyncOnlyRequest):
    """``POST /v2/image/edit/product/virtual-tryon``: dress the person in the garment(s).

    Not in Bria's OpenAPI files (bria-mcp, Comfy-Org docs); asynchronous only.
    """

    spec_notes = {"person_image": "endpoint absent from the spec (bria-mcp, Comfy-Org docs)"}

    person_image: ImageInput
    garment_images: Annotated[list[ImageInput], Field(min_length=1, max_length=3)]
    """One to three garment images."""
    instruction: Text | None = None
    aspect_ratio: AspectRatio | None = None
    output_type: OutputType | None = None
    seed: Seed | None = None
    visual_output_content_moderation: Flag | None = None

"""The grouped client methods: ``client.image``, ``client.edit``, ``client.product``,
``client.ads``, ``client.video`` and ``client.attribution`` (``client.tailored`` lives in
:mod:`bria_dagster.client.catalog.tailored_ops`).

Every job method waits and returns a :class:`~bria_dagster.client.results.JobResult`;
``.submit(...)`` returns the :class:`~bria_dagster.client.results.Submission` at once. Keyword
arguments are the request model's fields, or pass the model itself::

    result = client.edit.remove_background(image="https://.../shoe.jpg")
    submission = client.edit.remove_background.submit(image=path, webhook_url=hook)
    result = client.edit.remove_background(RemoveBackgroundRequest(image=path))

On an :class:`AsyncBriaClient` the same calls return coroutines.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from bria_dagster.client.catalog.binding import (
    JobOp,
    ModeT,
    Namespace,
    V1Op,
    api_call,
    operation,
)
from bria_dagster.client.catalog.effects import Plan, PresignedUpload
from bria_dagster.client.errors import BriaAPIError, BriaInputError
from bria_dagster.client.types import (
    ads,
    attribution,
    editing,
    fibo_edit,
    generation,
    product,
    segment,
    video,
)
from bria_dagster.client.types.responses import (
    AdsResult,
    Brand,
    Template,
    TemplateDetail,
    VehicleParts,
    VideoUpload,
    parse_product_shots,
    parse_v1_result,
)

MAX_VIDEO_UPLOAD = 1024**3
"""The upload service takes videos up to 1 GB."""


class ImageNamespace(Namespace[ModeT]):
    """FIBO generation and structured prompts (``client.image``)."""

    generate = JobOp(generation.GenerateImageRequest)
    """Generate an image from a prompt, a reference image and/or a structured prompt."""
    generate_lite = JobOp(generation.GenerateImageLiteRequest)
    """The same with the fast FIBO Lite pipeline."""
    structured_prompt = JobOp(generation.StructuredPromptRequest)
    """Write or refine a structured prompt (``result.structured_prompt``), no image."""
    structured_prompt_lite = JobOp(generation.StructuredPromptLiteRequest)
    """The same with the open FIBO-VLM bridge."""
    structured_prompt_from_diff = JobOp(generation.StructuredPromptFromDiffRequest)
    """A structured prompt from an original and a hand-edited one."""


class EditNamespace(Namespace[ModeT]):
    """Image editing (``client.edit``): classic edits and the FIBO edit family."""

    remove_background = JobOp(editing.RemoveBackgroundRequest)
    remove_background_guided = JobOp(editing.GuidedRemoveBackgroundRequest)
    replace_background = JobOp(editing.ReplaceBackgroundRequest)
    blur_background = JobOp(editing.BlurBackgroundRequest)
    erase_foreground = JobOp(editing.EraseForegroundRequest)
    crop_foreground = JobOp(editing.CropForegroundRequest)
    erase = JobOp(editing.EraseRequest)
    gen_fill = JobOp(editing.GenFillRequest)
    expand = JobOp(editing.ExpandRequest)
    enhance = JobOp(editing.EnhanceRequest)
    increase_resolution = JobOp(editing.IncreaseResolutionRequest)
    all_masks = JobOp(segment.AllMasksRequest)
    """Every region of the image as its own PNG mask (``result.urls``, best first), for
    ``erase`` or ``gen_fill``."""
    by_text = JobOp(fibo_edit.ImageEditRequest)
    """FIBO edit (``/v2/image/edit``) by instruction or structured instruction."""
    structured_instruction = JobOp(fibo_edit.StructuredInstructionRequest)
    add_object = JobOp(fibo_edit.AddObjectRequest)
    replace_object = JobOp(fibo_edit.ReplaceObjectRequest)
    erase_object = JobOp(fibo_edit.EraseObjectRequest)
    blend = JobOp(fibo_edit.BlendRequest)
    reseason = JobOp(fibo_edit.ReseasonRequest)
    rewrite_text = JobOp(fibo_edit.RewriteTextRequest)
    sketch_to_image = JobOp(fibo_edit.SketchToImageRequest)
    restore = JobOp(fibo_edit.RestoreRequest)
    colorize = JobOp(fibo_edit.ColorizeRequest)
    restyle = JobOp(fibo_edit.RestyleRequest)
    relight = JobOp(fibo_edit.RelightRequest)


class VehicleNamespace(Namespace[ModeT]):
    """Automotive product shots (``client.product.vehicle``, synchronous v1 calls)."""

    shot_by_text = V1Op(product.VehicleShotByTextRequest, parse_product_shots)
    segment = V1Op(product.VehicleSegmentRequest, VehicleParts.model_validate)
    generate_reflections = V1Op(product.VehicleReflectionsRequest, parse_v1_result)
    refine_tires = V1Op(product.VehicleRefineTiresRequest, parse_v1_result)
    apply_effect = V1Op(product.VehicleEffectRequest, parse_v1_result)
    harmonize = V1Op(product.VehicleHarmonizeRequest, parse_v1_result)


class ProductNamespace(Namespace[ModeT]):
    """Product imagery (``client.product``): v2 jobs and the synchronous v1 calls.

    v1 answers are parsed at once (their URLs expire after an hour): cut-out, packshot and
    shadow give a JobResult with ``image_url``; lifestyle shots a ProductShotsResult.
    """

    cutout = JobOp(product.ProductCutoutRequest)
    integrate = JobOp(product.ProductIntegrateRequest)
    holding = JobOp(product.ProductHoldingRequest)
    virtual_try_on = JobOp(product.VirtualTryOnRequest)
    cutout_v1 = V1Op(product.ProductCutoutV1Request, parse_v1_result)
    packshot = V1Op(product.PackshotRequest, parse_v1_result)
    shadow = V1Op(product.ShadowRequest, parse_v1_result)
    lifestyle_shot_by_text = V1Op(product.LifestyleShotByTextRequest, parse_product_shots)
    lifestyle_shot_by_image = V1Op(product.LifestyleShotByImageRequest, parse_product_shots)

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.vehicle: VehicleNamespace[ModeT] = VehicleNamespace(client)


class AdsNamespace(Namespace[ModeT]):
    """Ads (``client.ads``): template-based generation, brands and templates, and the v2
    delayer and resize jobs."""

    generate = V1Op(ads.AdsGenerateRequest, AdsResult.model_validate)
    """Render every scene of a template; ad URLs are placeholders until rendered."""
    delayer = JobOp(ads.AdsDelayerRequest)
    resize = JobOp(ads.AdsResizeRequest)

    @operation
    def brands(self) -> Plan[list[Brand]]:
        """Your private brands (public ones are not listed)."""
        body = yield api_call("GET", "/v1/ads/brands")
        return [Brand.model_validate(item) for item in body or []]

    @operation
    def templates(self) -> Plan[list[Template]]:
        """Your private templates (public ones are not listed)."""
        body = yield api_call("GET", "/v1/ads/templates")
        return [Template.model_validate(item) for item in body or []]

    @operation
    def template(self, template_id: int | str) -> Plan[TemplateDetail]:
        """A private template's scenes and layers."""
        body = yield api_call("GET", "/v1/ads/templates/{template_id}", template_id=template_id)
        return TemplateDetail.model_validate(body)


def _video_source(
    source: str | os.PathLike[str] | bytes, media_type: str | None, filename: str | None
) -> tuple[bytes | Path, str, str]:
    if isinstance(source, bytes | bytearray):
        if not source:
            raise BriaInputError("video", "is empty")
        if len(source) > MAX_VIDEO_UPLOAD:
            raise BriaInputError("video", "is larger than 1 GB")
        name = filename or "video.mp4"
        data: bytes | Path = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise BriaInputError("video", f"no such file: {path}")
        if path.stat().st_size > MAX_VIDEO_UPLOAD:
            raise BriaInputError("video", "is larger than 1 GB")
        name = filename or path.name
        data = path
    media = media_type or mimetypes.guess_type(name)[0] or ""
    if not media.startswith("video/"):
        raise BriaInputError("media_type", f"not a video type ({media or 'unknown'}); set it")
    return data, name, media


class VideoNamespace(Namespace[ModeT]):
    """Video edits and segmentation (``client.video``; asynchronous jobs, inputs are public
    URLs: ``upload()`` a local file first)."""

    remove_background = JobOp(video.VideoRemoveBackgroundRequest)
    replace_background = JobOp(video.VideoReplaceBackgroundRequest)
    increase_resolution = JobOp(video.VideoIncreaseResolutionRequest)
    erase = JobOp(video.VideoEraseRequest)
    green_screen = JobOp(video.GreenScreenRequest)
    mask_by_prompt = JobOp(video.MaskByPromptRequest)
    mask_by_key_points = JobOp(video.MaskByKeyPointsRequest)
    foreground_mask = JobOp(video.ForegroundMaskRequest)

    @operation
    def upload(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        media_type: str | None = None,
        filename: str | None = None,
    ) -> Plan[VideoUpload]:
        """Upload a local video (<= 1 GB) and return its ``file_url`` for the video edits.

        The file goes straight to the presigned storage URL, without the API token.
        """
        if media_type is not None:  # checked first, so its errors name it
            media_type = video.VideoUploadRequest.parse(media_type=media_type).media_type
        data, name, media = _video_source(source, media_type, filename)
        request = video.VideoUploadRequest.parse(media_type=media)
        body = yield api_call("POST", "/v2/video/upload", json=request.to_payload())
        slot = body.get("result", body) if isinstance(body, dict) else None
        if not isinstance(slot, dict) or not all(
            isinstance(slot.get(key), str) for key in ("upload_url", "file_url")
        ):
            raise BriaAPIError("unexpected answer from /v2/video/upload", body=body)
        fields = {str(k): str(v) for k, v in (slot.get("upload_fields") or {}).items()}
        yield PresignedUpload(slot["upload_url"], fields, name, data, media)
        return VideoUpload(file_url=slot["file_url"])


class AttributionNamespace(Namespace[ModeT]):
    """Attribution of generated images and videos (``client.attribution``)."""

    image = JobOp(attribution.ImageAttributionRequest)
    image_embedding = JobOp(attribution.ImageEmbeddingAttributionRequest)
    video = JobOp(attribution.VideoAttributionRequest)
    video_embedding = JobOp(attribution.VideoEmbeddingAttributionRequest)

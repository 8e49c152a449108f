"""The catalog of Bria operations: one :class:`OperationSpec` per endpoint and method.

``CATALOG`` maps the path of every operation that takes a JSON body to its spec (the emulator
iterates it to validate requests with the same models); ``OPERATIONS`` also holds the bodiless
calls (listings, reads, deletes), keyed by ``(method, path)``. The grouped client methods
(``client.edit.remove_background`` ...) are built from these specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bria_dagster.client.catalog.families import FAMILIES, FAMILY_ROOTS, EndpointFamily
from bria_dagster.client.endpoints import normalize_endpoint
from bria_dagster.client.types import (
    ads,
    attribution,
    editing,
    fibo_edit,
    generation,
    product,
    segment,
    tailored,
    tailored_generation,
    video,
)
from bria_dagster.client.types.base import AsyncOnlyRequest, BriaRequest

SyncMode = Literal["allowed", "refused", "always"]
"""How an operation answers (the emulator serves the same modes): ``allowed`` = 202 by default,
200 with ``sync=true``; ``refused`` = asynchronous only (its model is an
:class:`~bria_dagster.client.types.base.AsyncOnlyRequest`); ``always`` = a synchronous call with
its own body shape (every v1 call)."""

ResultKind = Literal[
    "image",
    "images",
    "video",
    "mask",
    "structured_prompt",
    "structured_instruction",
    "json",
    "none",
]
"""What the operation produces: one image URL, several (v1 shots, ads), a video, a mask (video
masks; vehicle part masks), a structured prompt / instruction (JSON text), other JSON, nothing."""

Method = Literal["GET", "POST", "PUT", "DELETE"]

Placeholders = Literal["always", "unsynced"]
"""When a v1 answer's URLs are placeholders that fill later (bria-api.md §5.2, §5.4): ``always``
(ads generate) or ``unsynced`` (the shot calls, when sent with ``sync: false``)."""


@dataclass(frozen=True)
class OperationSpec:
    """One operation: where it lives, what it takes, how it answers."""

    path: str
    """Full path, e.g. ``/v2/image/edit/erase``; ids as ``{dataset_id}``."""
    method: Method
    request_model: type[BriaRequest] | None
    """The JSON body's model; None for bodiless calls."""
    family: str
    """Latency family: a key of :data:`~.families.FAMILIES`."""
    sync: SyncMode
    result_kind: ResultKind
    name: str
    """The grouped client method, e.g. ``edit.remove_background``."""
    placeholders: Placeholders | None = None
    """Set when the answer's URLs may be placeholders (see :func:`returns_placeholders`)."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.path}: unknown family {self.family!r}")


def _sync_of(path: str, model: type[BriaRequest] | None) -> SyncMode:
    if path.startswith("/v1/"):
        return "always"
    if model is not None and issubclass(model, AsyncOnlyRequest):
        return "refused"
    return "allowed"


def _op(
    family: str,
    method: Method,
    path: str,
    model: type[BriaRequest] | None,
    name: str,
    result: ResultKind,
    sync: SyncMode | None = None,
    placeholders: Placeholders | None = None,
) -> OperationSpec:
    return OperationSpec(
        path=path,
        method=method,
        request_model=model,
        family=family,
        sync=sync or _sync_of(path, model),
        result_kind=result,
        name=name,
        placeholders=placeholders,
    )


def _job(
    family: str,
    path: str,
    model: type[BriaRequest],
    name: str,
    result: ResultKind = "image",
    sync: SyncMode | None = None,
    placeholders: Placeholders | None = None,
) -> OperationSpec:
    return _op(family, "POST", path, model, name, result, sync=sync, placeholders=placeholders)


_TG = "/v1/tailored-gen"

_SPECS: tuple[OperationSpec, ...] = (
    # Generation (FIBO)
    _job("generation", "/v2/image/generate", generation.GenerateImageRequest, "image.generate"),
    _job(
        "generation",
        "/v2/image/generate/lite",
        generation.GenerateImageLiteRequest,
        "image.generate_lite",
    ),
    _job(
        "structured_prompt",
        "/v2/structured_prompt/generate",
        generation.StructuredPromptRequest,
        "image.structured_prompt",
        "structured_prompt",
    ),
    _job(
        "structured_prompt",
        "/v2/structured_prompt/generate/lite",
        generation.StructuredPromptLiteRequest,
        "image.structured_prompt_lite",
        "structured_prompt",
    ),
    _job(
        "structured_prompt",
        "/v2/structured_prompt/generate_from_diff",
        generation.StructuredPromptFromDiffRequest,
        "image.structured_prompt_from_diff",
        "structured_prompt",
    ),
    # Classic edits
    _job(
        "edit",
        "/v2/image/edit/remove_background",
        editing.RemoveBackgroundRequest,
        "edit.remove_background",
    ),
    _job(
        "edit",
        "/v2/image/edit/remove_background/guided",
        editing.GuidedRemoveBackgroundRequest,
        "edit.remove_background_guided",
    ),
    _job(
        "edit",
        "/v2/image/edit/replace_background",
        editing.ReplaceBackgroundRequest,
        "edit.replace_background",
    ),
    _job(
        "edit",
        "/v2/image/edit/blur_background",
        editing.BlurBackgroundRequest,
        "edit.blur_background",
    ),
    _job(
        "edit",
        "/v2/image/edit/erase_foreground",
        editing.EraseForegroundRequest,
        "edit.erase_foreground",
    ),
    _job(
        "edit",
        "/v2/image/edit/crop_foreground",
        editing.CropForegroundRequest,
        "edit.crop_foreground",
    ),
    _job("edit", "/v2/image/edit/erase", editing.EraseRequest, "edit.erase"),
    _job("edit", "/v2/image/edit/gen_fill", editing.GenFillRequest, "edit.gen_fill"),
    _job("edit", "/v2/image/edit/expand", editing.ExpandRequest, "edit.expand"),
    _job("enhance", "/v2/image/edit/enhance", editing.EnhanceRequest, "edit.enhance"),
    _job(
        "edit",
        "/v2/image/edit/increase_resolution",
        editing.IncreaseResolutionRequest,
        "edit.increase_resolution",
    ),
    _job("edit", "/v2/image/segment/all_masks", segment.AllMasksRequest, "edit.all_masks", "mask"),
    # FIBO edit family
    _job("fibo_edit", "/v2/image/edit", fibo_edit.ImageEditRequest, "edit.by_text"),
    _job(
        "structured_prompt",
        "/v2/structured_instruction/generate",
        fibo_edit.StructuredInstructionRequest,
        "edit.structured_instruction",
        "structured_instruction",
    ),
    _job(
        "fibo_edit",
        "/v2/image/edit/add_object_by_text",
        fibo_edit.AddObjectRequest,
        "edit.add_object",
    ),
    _job(
        "fibo_edit",
        "/v2/image/edit/replace_object_by_text",
        fibo_edit.ReplaceObjectRequest,
        "edit.replace_object",
    ),
    _job(
        "fibo_edit",
        "/v2/image/edit/erase_by_text",
        fibo_edit.EraseObjectRequest,
        "edit.erase_object",
    ),
    _job("fibo_edit", "/v2/image/edit/blend", fibo_edit.BlendRequest, "edit.blend"),
    _job("fibo_edit", "/v2/image/edit/reseason", fibo_edit.ReseasonRequest, "edit.reseason"),
    _job(
        "fibo_edit",
        "/v2/image/edit/rewrite_text",
        fibo_edit.RewriteTextRequest,
        "edit.rewrite_text",
    ),
    _job(
        "fibo_edit",
        "/v2/image/edit/sketch_to_colored_image",
        fibo_edit.SketchToImageRequest,
        "edit.sketch_to_image",
    ),
    _job("fibo_edit", "/v2/image/edit/restore", fibo_edit.RestoreRequest, "edit.restore"),
    _job("fibo_edit", "/v2/image/edit/colorize", fibo_edit.ColorizeRequest, "edit.colorize"),
    _job("fibo_edit", "/v2/image/edit/restyle", fibo_edit.RestyleRequest, "edit.restyle"),
    _job("fibo_edit", "/v2/image/edit/relight", fibo_edit.RelightRequest, "edit.relight"),
    # Product, v2
    _job(
        "product", "/v2/image/edit/product/cutout", product.ProductCutoutRequest, "product.cutout"
    ),
    _job(
        "product",
        "/v2/image/edit/product/integrate",
        product.ProductIntegrateRequest,
        "product.integrate",
    ),
    _job(
        "product_async",
        "/v2/image/edit/product/holding",
        product.ProductHoldingRequest,
        "product.holding",
    ),
    _job(
        "product_async",
        "/v2/image/edit/product/virtual-tryon",
        product.VirtualTryOnRequest,
        "product.virtual_try_on",
    ),
    # Product, v1 (synchronous)
    _job("product", "/v1/product/cutout", product.ProductCutoutV1Request, "product.cutout_v1"),
    _job("product", "/v1/product/packshot", product.PackshotRequest, "product.packshot"),
    _job("product", "/v1/product/shadow", product.ShadowRequest, "product.shadow"),
    _job(
        "product",
        "/v1/product/lifestyle_shot_by_text",
        product.LifestyleShotByTextRequest,
        "product.lifestyle_shot_by_text",
        "images",
        placeholders="unsynced",
    ),
    _job(
        "product",
        "/v1/product/lifestyle_shot_by_image",
        product.LifestyleShotByImageRequest,
        "product.lifestyle_shot_by_image",
        "images",
        placeholders="unsynced",
    ),
    _job(
        "product",
        "/v1/product/vehicle/shot_by_text",
        product.VehicleShotByTextRequest,
        "product.vehicle.shot_by_text",
        "images",
        placeholders="unsynced",
    ),
    _job(
        "product",
        "/v1/product/vehicle/segment",
        product.VehicleSegmentRequest,
        "product.vehicle.segment",
        "mask",
    ),
    _job(
        "product",
        "/v1/product/vehicle/generate_reflections",
        product.VehicleReflectionsRequest,
        "product.vehicle.generate_reflections",
    ),
    _job(
        "product",
        "/v1/product/vehicle/refine_tires",
        product.VehicleRefineTiresRequest,
        "product.vehicle.refine_tires",
    ),
    _job(
        "product",
        "/v1/product/vehicle/apply_effect",
        product.VehicleEffectRequest,
        "product.vehicle.apply_effect",
    ),
    _job(
        "product",
        "/v1/product/vehicle/harmonize",
        product.VehicleHarmonizeRequest,
        "product.vehicle.harmonize",
    ),
    # Ads
    _job(
        "ads",
        "/v1/ads/generate",
        ads.AdsGenerateRequest,
        "ads.generate",
        "images",
        placeholders="always",
    ),
    _op("ads", "GET", "/v1/ads/brands", None, "ads.brands", "json"),
    _op("ads", "GET", "/v1/ads/templates", None, "ads.templates", "json"),
    _op("ads", "GET", "/v1/ads/templates/{template_id}", None, "ads.template", "json"),
    _job("ads", "/v2/ads/delayer", ads.AdsDelayerRequest, "ads.delayer", "json"),
    _job("ads", "/v2/ads/resize", ads.AdsResizeRequest, "ads.resize", "images"),
    # Tailored generation (v2)
    _job(
        "generation",
        "/v2/image/generate/tailored",
        tailored_generation.TailoredGenerateRequest,
        "tailored.generate",
    ),
    _job(
        "structured_prompt",
        "/v2/structured_prompt/generate/tailored",
        tailored_generation.TailoredStructuredPromptRequest,
        "tailored.structured_prompt",
        "structured_prompt",
    ),
    _job(
        "video",
        "/v2/video/generate/tailored/image-to-video",
        tailored_generation.TailoredImageToVideoRequest,
        "tailored.image_to_video",
        "video",
    ),
    # Tailored management (v1)
    _job(
        "tailored",
        f"{_TG}/generate_visual_schema",
        tailored.GenerateVisualSchemaRequest,
        "tailored.generate_visual_schema",
        "json",
    ),
    _job(
        "tailored",
        f"{_TG}/refine_structured_prompt",
        tailored.RefineStructuredPromptRequest,
        "tailored.refine_structured_prompt",
        "structured_prompt",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/projects",
        tailored.CreateProjectRequest,
        "tailored.projects.create",
        "json",
    ),
    _op("tailored", "GET", f"{_TG}/projects", None, "tailored.projects.list", "json"),
    _op("tailored", "GET", f"{_TG}/projects/{{project_id}}", None, "tailored.projects.get", "json"),
    _op(
        "tailored",
        "PUT",
        f"{_TG}/projects/{{project_id}}",
        tailored.UpdateProjectRequest,
        "tailored.projects.update",
        "json",
    ),
    _op(
        "tailored",
        "DELETE",
        f"{_TG}/projects/{{project_id}}",
        None,
        "tailored.projects.delete",
        "none",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/projects/{{project_id}}/datasets",
        None,
        "tailored.projects.datasets",
        "json",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/projects/{{project_id}}/models",
        None,
        "tailored.projects.models",
        "json",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/datasets",
        tailored.CreateDatasetRequest,
        "tailored.datasets.create",
        "json",
    ),
    _op("tailored", "GET", f"{_TG}/datasets", None, "tailored.datasets.list", "json"),
    _op("tailored", "GET", f"{_TG}/datasets/{{dataset_id}}", None, "tailored.datasets.get", "json"),
    _op(
        "tailored",
        "PUT",
        f"{_TG}/datasets/{{dataset_id}}",
        tailored.UpdateDatasetRequest,
        "tailored.datasets.update",
        "json",
    ),
    _op(
        "tailored",
        "DELETE",
        f"{_TG}/datasets/{{dataset_id}}",
        None,
        "tailored.datasets.delete",
        "none",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/datasets/{{dataset_id}}/clone",
        tailored.CloneDatasetRequest,
        "tailored.datasets.clone",
        "json",
    ),
    _op(
        "tailored",
        "PUT",
        f"{_TG}/datasets/{{dataset_id}}/images",
        None,
        "tailored.datasets.regenerate_captions",
        "json",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/datasets/{{dataset_id}}/images/bulk-upload",
        tailored.BulkUploadRequest,
        "tailored.datasets.bulk_upload",
        "none",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/datasets/{{dataset_id}}/images/bulk-upload/status",
        None,
        "tailored.datasets.bulk_upload_status",
        "json",
    ),
    _op(
        "other",
        "GET",
        "/v1/datasets/{dataset_id}/download",
        None,
        "tailored.datasets.download",
        "json",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/datasets/{{dataset_id}}/images",
        tailored.UploadImageRequest,
        "tailored.images.upload",
        "json",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/datasets/{{dataset_id}}/images",
        None,
        "tailored.images.list",
        "json",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
        None,
        "tailored.images.get",
        "json",
    ),
    _op(
        "tailored",
        "PUT",
        f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
        tailored.UpdateCaptionRequest,
        "tailored.images.update_caption",
        "json",
    ),
    _op(
        "tailored",
        "DELETE",
        f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
        None,
        "tailored.images.delete",
        "none",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/models",
        tailored.CreateModelRequest,
        "tailored.models.create",
        "json",
    ),
    _op("tailored", "GET", f"{_TG}/models", None, "tailored.models.list", "json"),
    _op("tailored", "GET", f"{_TG}/models/{{model_id}}", None, "tailored.models.get", "json"),
    _op(
        "tailored",
        "PUT",
        f"{_TG}/models/{{model_id}}",
        tailored.UpdateModelRequest,
        "tailored.models.update",
        "json",
    ),
    _op("tailored", "DELETE", f"{_TG}/models/{{model_id}}", None, "tailored.models.delete", "none"),
    _op(
        "tailored",
        "POST",
        f"{_TG}/models/{{model_id}}/start_training",
        tailored.StartTrainingRequest,
        "tailored.models.start_training",
        "json",
    ),
    _op(
        "tailored",
        "POST",
        f"{_TG}/models/{{model_id}}/stop_training",
        None,
        "tailored.models.stop_training",
        "json",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/models/{{model_id}}/checkpoints",
        None,
        "tailored.models.checkpoints",
        "json",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/models/{{model_id}}/checkpoints/{{checkpoint_step}}",
        None,
        "tailored.models.checkpoint",
        "json",
    ),
    _op(
        "tailored",
        "DELETE",
        f"{_TG}/models/{{model_id}}/checkpoints/{{checkpoint_step}}",
        None,
        "tailored.models.delete_checkpoint",
        "none",
    ),
    _op(
        "tailored",
        "GET",
        f"{_TG}/models/{{model_id}}/download",
        None,
        "tailored.models.download",
        "json",
    ),
    # Video (asynchronous only)
    _job(
        "video",
        "/v2/video/edit/remove_background",
        video.VideoRemoveBackgroundRequest,
        "video.remove_background",
        "video",
    ),
    _job(
        "video",
        "/v2/video/edit/replace_background",
        video.VideoReplaceBackgroundRequest,
        "video.replace_background",
        "video",
    ),
    _job(
        "video",
        "/v2/video/edit/increase_resolution",
        video.VideoIncreaseResolutionRequest,
        "video.increase_resolution",
        "video",
    ),
    _job("video", "/v2/video/edit/erase", video.VideoEraseRequest, "video.erase", "video"),
    _job(
        "video",
        "/v2/video/edit/green_screen",
        video.GreenScreenRequest,
        "video.green_screen",
        "video",
    ),
    _job(
        "video",
        "/v2/video/segment/mask_by_prompt",
        video.MaskByPromptRequest,
        "video.mask_by_prompt",
        "mask",
    ),
    _job(
        "video",
        "/v2/video/segment/mask_by_key_points",
        video.MaskByKeyPointsRequest,
        "video.mask_by_key_points",
        "mask",
    ),
    _job(
        "video",
        "/v2/video/generate/foreground_mask",
        video.ForegroundMaskRequest,
        "video.foreground_mask",
        "mask",
    ),
    _job(
        "video", "/v2/video/upload", video.VideoUploadRequest, "video.upload", "json", sync="always"
    ),
    # Attribution
    _job(
        "attribution",
        "/v2/image/attribution/by_image",
        attribution.ImageAttributionRequest,
        "attribution.image",
        "json",
    ),
    _job(
        "attribution",
        "/v2/image/attribution/by_embedding",
        attribution.ImageEmbeddingAttributionRequest,
        "attribution.image_embedding",
        "json",
    ),
    _job(
        "video",
        "/v2/video/attribution/by_video",
        attribution.VideoAttributionRequest,
        "attribution.video",
        "json",
    ),
    _job(
        "video",
        "/v2/video/attribution/by_embedding",
        attribution.VideoEmbeddingAttributionRequest,
        "attribution.video_embedding",
        "json",
    ),
)

OPERATIONS: dict[tuple[str, str], OperationSpec] = {(s.method, s.path): s for s in _SPECS}
"""Every operation the client covers, keyed by ``(method, path)``."""

CATALOG: dict[str, OperationSpec] = {s.path: s for s in _SPECS if s.request_model is not None}
"""Every operation with a JSON body, keyed by path (one body-taking method per path)."""

_BY_MODEL: dict[type[BriaRequest], OperationSpec] = {
    s.request_model: s for s in _SPECS if s.request_model is not None
}


def spec_for(model: type[BriaRequest]) -> OperationSpec:
    """The operation whose body ``model`` describes."""
    try:
        return _BY_MODEL[model]
    except KeyError:
        raise KeyError(f"{model.__name__} is not the body of any catalog operation") from None


def find_operation(method: str, path: str) -> OperationSpec:
    """The operation at ``(method, path)``; ``path`` as a template, e.g. ``.../{model_id}``."""
    return OPERATIONS[(method.upper(), path)]


_FAMILY_OF_PATH: dict[str, str] = {
    **FAMILY_ROOTS,
    **{spec.path.split("/{", 1)[0]: spec.family for spec in _SPECS},
}


def family_of(endpoint: str) -> EndpointFamily:
    """The family of an endpoint: its catalog entry's, else that of the nearest listed path
    above it (an entry or a :data:`~.families.FAMILY_ROOTS` root), else ``other``."""
    path = normalize_endpoint(endpoint)
    while path:
        if path in _FAMILY_OF_PATH:
            return FAMILIES[_FAMILY_OF_PATH[path]]
        path = path.rpartition("/")[0]
    return FAMILIES["other"]


def returns_placeholders(path: str, payload: Mapping[str, Any]) -> bool:
    """True when ``POST path`` with ``payload`` answers with placeholder URLs."""
    spec = CATALOG.get(path)
    mode = spec.placeholders if spec is not None else None
    return mode == "always" or (mode == "unsynced" and payload.get("sync", False) is False)

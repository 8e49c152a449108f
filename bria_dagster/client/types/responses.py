"""Typed answers of the non-job calls: tailored objects, ads listings and v1 results.

These parse what the API returns and keep unknown fields (``extra="allow"``), so a new server
field never breaks a client; only the fields the client relies on are named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bria_dagster.client.errors import BriaAPIError
from bria_dagster.client.results import JobResult


class ApiObject(BaseModel):
    """Base of response models: lenient (unknown fields kept, nothing required but ids)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Project(ApiObject):
    """A tailored-generation project."""

    id: int
    project_name: str | None = None
    project_description: str | None = None
    ip_name: str | None = None
    ip_description: str | None = None
    ip_medium: str | None = None
    ip_type: str | None = None
    training_version: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class DatasetImage(ApiObject):
    """An image of a dataset; ``caption`` is a JSON string (None until a schema exists)."""

    id: int
    dataset_id: int | None = None
    caption: str | None = None
    caption_source: str | None = None
    upload_source_url: str | None = None
    image_name: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Dataset(ApiObject):
    """A dataset: ``status`` draft|completed, ``captions_update_status``
    empty|in_progress|completed; ``images`` only when fetched by id."""

    id: int
    project_id: int | None = None
    name: str | None = None
    visual_schema: str | None = None
    status: str | None = None
    captions_update_status: str | None = None
    upload_type: str | None = None
    images_count: int | None = None
    images: list[DatasetImage] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_completed(self) -> bool:
        """True once the dataset is completed (frozen for training)."""
        return self.status == "completed"


class TailoredModel(ApiObject):
    """A tailored model; ``status`` Created → InProgress → Completed (or Failed/Stopped)."""

    id: int
    name: str | None = None
    description: str | None = None
    status: str | None = None
    training_mode: str | None = None
    project_id: int | None = None
    dataset_id: int | None = None
    active_model_version: str | None = None
    training_parameters: dict[str, Any] = Field(default_factory=dict)
    checkpoint_steps: list[Any] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def is_trained(self) -> bool:
        """True when training completed and the model can generate."""
        return self.status == "Completed"

    @property
    def has_ended(self) -> bool:
        """True when training will not progress any further (Completed, Failed, Stopped)."""
        return self.status in ("Completed", "Failed", "Stopped")


class Checkpoint(ApiObject):
    """A saved training step of an expert model."""

    checkpoint_step: int
    training_job_id: int | None = None
    created_at: str | None = None


class Checkpoints(ApiObject):
    """A model's checkpoints and the one used for inference."""

    checkpoints: list[Checkpoint] = Field(default_factory=list)
    active_model_version: str | None = None


class BulkUploadStatus(ApiObject):
    """Progress of a zip upload: ``status`` pending|processing|completed|failed."""

    status: str | None = None
    progress_percentage: int | None = None
    total_processed: int | None = None
    done: int | None = None
    failed: int | None = None
    failed_images: list[dict[str, Any]] = Field(default_factory=list)


class Download(ApiObject):
    """A pre-signed download (model weights or an advanced dataset)."""

    download_url: str | None = None
    captions_url: str | None = None
    base_model_name: str | None = None
    base_model_card: str | None = None


class Brand(ApiObject):
    """A private ads brand."""

    id: int | str
    name: str | None = None
    description: str | None = None
    created_at: str | None = None


class Template(ApiObject):
    """A private ads template (summary)."""

    id: int | str
    name: str | None = None
    description: str | None = None
    created_at: str | None = None
    number_of_ads: int | None = None
    preview: str | None = None


class TemplateLayer(ApiObject):
    """One layer of a template scene."""

    id: str | int | None = None
    layer_type: str | None = None
    content_type: str | None = None
    content: str | None = None
    scene_number: int | None = None


class TemplateDetail(ApiObject):
    """A template's scenes: ``scene_resolutions`` and the layers of each ``scene_N``."""

    scene_resolutions: dict[str, dict[str, int]] = Field(default_factory=dict)

    @property
    def scenes(self) -> dict[str, list[TemplateLayer]]:
        """The layers of each scene, keyed ``scene_1``, ``scene_2``, ..."""
        extra = self.model_extra or {}
        return {
            key: [TemplateLayer.model_validate(layer) for layer in value]
            for key, value in extra.items()
            if key.startswith("scene_") and isinstance(value, list)
        }


class Ad(ApiObject):
    """One generated ad. ``url`` is a placeholder until the file is rendered (poll it); a
    moderated-out ad becomes a zero-byte file."""

    id: str | int | None = None
    name: str | None = None
    url: str | None = None
    resolution: dict[str, int] = Field(default_factory=dict)
    editor_iframe: str | None = None


class AdsResult(ApiObject):
    """The answer of ``/v1/ads/generate``: one ad per template scene."""

    ads: list[Ad] = Field(default_factory=list, validation_alias="result")


class ProductShot(BaseModel):
    """One v1 lifestyle shot: ``[url, seed, session_id]``, or a blocked item."""

    url: str | None = None
    seed: int | None = None
    session_id: str | None = None
    blocked: bool = False
    error: str | None = None


class ProductShotsResult(BaseModel):
    """The answer of the v1 lifestyle/vehicle shot calls. With ``sync=false`` the URLs are
    placeholders that fill in a few seconds later (a moderated shot becomes zero bytes)."""

    shots: list[ProductShot] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        """URLs of the shots that were not blocked."""
        return [shot.url for shot in self.shots if shot.url and not shot.blocked]


def parse_product_shots(body: Any) -> ProductShotsResult:
    """Parse ``{"result": [[url, seed, session_id], ...]}`` (blocked items are string lists
    such as ``["blocked:true", "error_code:422", "description:..."]``)."""
    items = body.get("result") if isinstance(body, dict) else None
    shots: list[ProductShot] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            shots.append(ProductShot.model_validate({**item, "url": item.get("url")}))
            continue
        values = [str(v) for v in item] if isinstance(item, list) else [str(item)]
        if values and values[0].startswith("blocked:"):
            shots.append(ProductShot(blocked=True, error="; ".join(values[1:]) or None))
            continue
        seed = values[1] if len(values) > 1 else None
        shots.append(
            ProductShot(
                url=values[0] if values else None,
                seed=int(seed) if seed and seed.lstrip("-").isdigit() else None,
                session_id=values[2] if len(values) > 2 else None,
            )
        )
    return ProductShotsResult(shots=shots, raw=body if isinstance(body, dict) else {})


def parse_v1_result(body: Any) -> JobResult:
    """A :class:`JobResult` from a synchronous v1 answer (``result_url``, or ``url`` and
    ``seed``, or per-part URLs), keeping the whole body in ``raw``."""
    data = body if isinstance(body, dict) else {"result": body}
    image_url = data.get("result_url") or data.get("url")
    return JobResult.model_validate({"image_url": image_url, "seed": data.get("seed"), "raw": data})


class VehicleParts(ApiObject):
    """Mask URLs of a vehicle's parts (empty string when a part was not found)."""

    windshield: str | None = None
    rear_window: str | None = None
    side_windows: str | None = None
    body: str | None = None
    wheels: str | None = None
    hubcap: str | None = None
    tires: str | None = None


def field_of(name: str) -> Callable[[Any], str]:
    """A parser returning the string field ``name`` of a JSON answer."""

    def parse(body: Any) -> str:
        value = body.get(name) if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise BriaAPIError(f"unexpected answer: no {name!r} string", body=body)
        return value

    return parse


class VideoUpload(BaseModel):
    """A finished local-video upload: pass ``file_url`` as an edit's ``video``."""

    file_url: str
    """Where the uploaded video is reachable (about a day)."""


class TrainingOutcome(BaseModel):
    """What ``client.tailored.train_model`` did and where it ended."""

    project: Project
    dataset: Dataset
    model: TailoredModel
    images_uploaded: int = 0
    """Images uploaded by this call."""
    images_skipped: int = 0
    """Images found already uploaded (by ``image_name``) and not sent again."""


def placeholder_urls(body: Any) -> list[str]:
    """The result URLs of a placeholder answer: ``result`` as ``[{"url": ...}, ...]`` (ads) or
    ``[[url, seed, session_id], ...]`` (shots); blocked shots (``"blocked:true"``) have none."""
    items = body.get("result") if isinstance(body, Mapping) else None
    urls: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("url"), str) and item["url"]:
            urls.append(item["url"])
        elif isinstance(item, list) and item and str(item[0]).startswith(("http://", "https://")):
            urls.append(item[0])
    return urls

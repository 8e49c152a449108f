"""Tailored generation management (v1): projects, datasets, images, visual schemas, models,
training and checkpoints, under ``/v1/tailored-gen/``.

Sources: Bria's OpenAPI ``tailored-generation.yml`` and bria-api.md §5.3. Path ids (project,
dataset, image, model, checkpoint) are call arguments, not body fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol, Self, TypeAlias

from pydantic import ConfigDict, Field, SkipValidation, StrictInt, model_validator

from bria_dagster.client.types.base import (
    BriaRequest,
    RuleViolation,
    forbid_together,
    require_one_of,
)
from bria_dagster.client.types.fields import (
    Flag,
    HttpUrl,
    ImageInput,
    ImageValue,
    JsonObjectText,
    PositiveInt,
    Text,
)

IpType = Literal[
    "multi_object_set",
    "object_variants",
    "icons",
    "defined_character",
    "character_variants",
    "stylized_scene",
    "other",
]
IpMedium = Literal["photography", "illustration"]
TrainingMode = Literal["fully_automated", "expert"]
LrScheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"
]
ILLUSTRATION_ONLY: frozenset[str] = frozenset(
    {"object_variants", "multi_object_set", "icons", "character_variants"}
)
"""IP types available only with ``ip_medium="illustration"``."""

MAX_BASIC_IMAGES = 200
"""A basic dataset holds at most 200 images (uploaded one by one)."""
MIN_DATASET_IMAGES = 5
"""A dataset needs at least 5 images to be completed."""


class _ProjectText(BriaRequest):
    """Project texts. The spec asks for 1-3 words of ``ip_name`` and up to 6 of
    ``ip_description`` but its own example is longer, so lengths are guidance, not checked."""

    project_description: Text | None = None
    ip_name: Text | None = None
    """The character's name, ideally 1-3 words (required for defined_character)."""
    ip_description: Text | None = None
    """The most distinctive features, ideally up to 6 words (required for defined_character
    and object_variants)."""


class CreateProjectRequest(_ProjectText):
    """``POST /v1/tailored-gen/projects``: a project for one visual IP.

    ``object_variants``, ``multi_object_set``, ``icons`` and ``character_variants`` are
    illustration-only.
    """

    spec_notes = {
        "project_name": "required (the spec's descriptions say so; its schema lists none)",
        "ip_medium": "required (the spec's descriptions say so; its schema lists none)",
        "ip_type": "required (the spec's descriptions say so; its schema lists none)",
    }

    project_name: Text
    ip_medium: IpMedium
    ip_type: IpType

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.ip_type in ILLUSTRATION_ONLY and self.ip_medium != "illustration":
            raise RuleViolation("ip_type", f"{self.ip_type} needs ip_medium 'illustration'")
        if self.ip_type == "defined_character" and self.ip_name is None:
            raise RuleViolation("ip_name", "required for ip_type defined_character")
        if self.ip_type in ("defined_character", "object_variants") and self.ip_description is None:
            raise RuleViolation("ip_description", f"required for ip_type {self.ip_type}")
        return self


class UpdateProjectRequest(_ProjectText):
    """``PUT /v1/tailored-gen/projects/{project_id}``."""

    project_name: Text | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "project_name", "project_description", "ip_name", "ip_description")
        return self


class CreateDatasetRequest(BriaRequest):
    """``POST /v1/tailored-gen/datasets``: an empty ``draft`` dataset in a project.

    ``basic``: up to 200 images uploaded one by one; ``advanced``: up to 5000 from a zip.
    """

    spec_notes = {
        "project_id": "required (the spec's descriptions say so; its schema lists none)",
        "name": "required (the spec's descriptions say so; its schema lists none)",
    }

    project_id: PositiveInt
    name: Text
    upload_type: Literal["basic", "advanced"] | None = None
    """``basic`` (default) or ``advanced``."""


class UpdateDatasetRequest(BriaRequest):
    """``PUT /v1/tailored-gen/datasets/{dataset_id}``: rename, set the visual schema (draft
    only) or complete it (``status="completed"``, needs at least 5 images)."""

    name: Text | None = None
    visual_schema: JsonObjectText | None = None
    """The JSON from ``generate_visual_schema``."""
    status: Literal["draft", "completed"] | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "name", "visual_schema", "status")
        return self


class CloneDatasetRequest(BriaRequest):
    """``POST /v1/tailored-gen/datasets/{dataset_id}/clone``: a draft copy with its schema."""

    name: Text | None = None
    """Default "Copy of <name>"."""
    description: Text | None = None


class UploadImageRequest(BriaRequest):
    """``POST /v1/tailored-gen/datasets/{dataset_id}/images``: add one image to a basic dataset.

    Give ``file`` (sent as base64 in the JSON body, as the spec declares it) or ``image_url``.
    Images of 256-1024 px are upscaled unless ``increase_resolution`` is false (then 1024x1024
    is the minimum, else 412).
    """

    spec_notes = {
        "file": "the spec declares a binary string inside a JSON body; it is sent as base64"
    }

    file: ImageInput | None = None
    """The image (path, bytes, PIL, base64)."""
    image_url: HttpUrl | None = None
    image_name: Text | None = None
    """A name for the image (used to resume uploads)."""
    increase_resolution: Flag | None = None
    """Default true: upscale images smaller than 1024x1024 (down to 256x256)."""
    content_moderation: Flag | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "file", "image_url")
        forbid_together(self, "file", "image_url", "upload one image per call")
        return self


class BulkUploadRequest(BriaRequest):
    """``POST /v1/tailored-gen/datasets/{dataset_id}/images/bulk-upload``: up to 5000 images
    from a zip (advanced datasets, once, when empty; at most 5 GB)."""

    spec_notes = {"zip_url": "required (the upload's only input)"}

    zip_url: HttpUrl
    content_moderation: Flag | None = None


class UpdateCaptionRequest(BriaRequest):
    """``PUT /v1/tailored-gen/datasets/{dataset_id}/images/{image_id}``: a manual ``caption``
    (JSON) or ``regenerate_caption=true``, not both. Not on completed datasets."""

    caption: JsonObjectText | None = None
    regenerate_caption: Flag | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.caption is None and not self.regenerate_caption:
            raise RuleViolation("caption", "required: provide caption or regenerate_caption=true")
        if self.caption is not None and self.regenerate_caption:
            raise RuleViolation("regenerate_caption", "cannot be combined with caption")
        return self


class GenerateVisualSchemaRequest(BriaRequest):
    """``POST /v1/tailored-gen/generate_visual_schema``: the shared visual traits of 5-10
    sample images, as JSON to set on the dataset before uploading images."""

    images: Annotated[list[ImageInput], Field(min_length=5, max_length=10)]
    content_moderation: Flag | None = None


class RefineStructuredPromptRequest(BriaRequest):
    """``POST /v1/tailored-gen/refine_structured_prompt``: edit a visual schema or caption by
    instruction (the dataset must be a draft)."""

    dataset_id: PositiveInt
    structured_prompt: JsonObjectText
    instruction: Text
    context_images: list[ImageInput] | None = None


class CreateModelRequest(BriaRequest):
    """``POST /v1/tailored-gen/models``: a model (status ``Created``) on a completed dataset."""

    spec_notes = {
        "name": "required (the spec's descriptions say so; its schema lists none)",
        "dataset_id": "required (the spec's descriptions say so; its schema lists none)",
    }

    name: Text
    dataset_id: PositiveInt
    training_mode: TrainingMode | None = None
    """``fully_automated`` (default) or ``expert`` (training parameters allowed)."""
    description: Text | None = None


class UpdateModelRequest(BriaRequest):
    """``PUT /v1/tailored-gen/models/{model_id}``."""

    name: Text | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        require_one_of(self, "name", "description")
        return self


class StartTrainingRequest(BriaRequest):
    """``POST /v1/tailored-gen/models/{model_id}/start_training``. Parameters are for
    ``expert`` models only; unset ones take Bria's defaults (rank 128, learning rate 1e-4,
    constant_with_warmup, 750 steps, checkpoints every 500, 100 warm-up steps)."""

    lr_scheduler: LrScheduler | None = None
    learning_rate: Annotated[float, Field(strict=True, ge=1e-6, le=1e-3)] | None = None
    total_training_steps: Annotated[StrictInt, Field(ge=1, le=5000)] | None = None
    rank: Annotated[StrictInt, Field(ge=4, le=256)] | None = None
    checkpoint_interval: Annotated[StrictInt, Field(ge=100)] | None = None
    lr_warmup_steps: Annotated[StrictInt, Field(ge=0, le=1000)] | None = None
    """Only with the ``constant_with_warmup`` scheduler (the default)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.lr_warmup_steps is not None and self.lr_scheduler not in (
            None,
            "constant_with_warmup",
        ):
            raise RuleViolation("lr_warmup_steps", "only with lr_scheduler constant_with_warmup")
        return self

    @property
    def is_default(self) -> bool:
        """True when no parameter is set (fully automated training sends an empty body)."""
        return not self.model_dump(exclude_none=True)


ImageSource: TypeAlias = str | os.PathLike[str] | Sequence[ImageValue] | Mapping[str, ImageValue]
"""Training images: a folder, a list of images or an ``{image_name: image}`` mapping."""

CreationKind = Literal["project", "dataset", "model", "training"]
"""The steps of ``train_model`` that create something at Bria (training: its start)."""


class CreationLog(Protocol):
    """A durable record of what ``train_model`` creates, consulted before each creating POST.

    ``train_model`` asks :meth:`known` first (an id recorded by an earlier run wins over a
    lookup by name), calls :meth:`before` right before the POST and :meth:`after` with the id
    Bria answered, and also calls :meth:`after` for an object it found already made (by an
    earlier run that died before recording it). The Dagster asset
    :func:`~bria_dagster.assets.bria_tailored_model` records them in the ledger.
    """

    def known(self, kind: CreationKind) -> int | None:
        """The id an earlier run recorded for this step, or None."""
        ...

    def before(self, kind: CreationKind, payload: Mapping[str, Any]) -> None:
        """Record that the POST of ``kind`` is about to leave (``payload`` is a summary)."""
        ...

    def after(self, kind: CreationKind, object_id: int, body: Mapping[str, Any]) -> None:
        """Record the id of the object ``kind`` made (or found made); ``body`` is Bria's."""
        ...


class TrainModelRequest(BriaRequest):
    """What ``client.tailored.train_model`` trains: not one wire body but the input of the
    whole workflow (project, dataset, visual schema, uploads, model, training, wait), whose
    bodies are built from it. Pass it, or its fields as keywords."""

    model_config = ConfigDict(arbitrary_types_allowed=True)  # images may be PIL images

    images: SkipValidation[ImageSource]
    """A folder (its .jpg/.jpeg/.png/.webp files, sorted), a list (paths, URLs, bytes, PIL
    images) or a ``{image_name: image}`` mapping; 5-200 images (checked by the workflow)."""
    project_name: str
    """The project, found by this name or created."""
    ip_type: IpType
    ip_medium: IpMedium
    ip_name: str | None = None
    ip_description: str | None = None
    project_description: str | None = None
    dataset_name: str = "dataset"
    """The dataset in the project, found by this name or created."""
    model_name: str = "model"
    """The model on the dataset, found by this name or created."""
    model_description: str | None = None
    training_mode: TrainingMode = "fully_automated"
    training_parameters: SkipValidation[StartTrainingRequest | Mapping[str, Any] | None] = None
    """Expert parameters (``training_mode="expert"`` only), checked as a StartTrainingRequest."""
    increase_resolution: bool | None = None
    """Passed to every image upload."""
    content_moderation: bool | None = None
    """Passed to the uploads and the visual schema call."""
    wait: bool = True
    """Poll until the model is trained; False returns once training started."""
    poll_interval: float = 60.0
    """Seconds between training polls."""
    timeout: float | None = None
    """Give up waiting (WaitTimeoutError) after this many seconds."""
    creation_log: SkipValidation[CreationLog | None] = None
    """Records each creating step before and after its POST, and names what earlier runs
    made (see :class:`CreationLog`); None: found by name only."""

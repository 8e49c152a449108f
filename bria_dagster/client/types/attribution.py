"""Attribution: which licensed training data contributed to a generated image or video.

Sources: Bria's OpenAPI ``attribution-service.yml`` and bria-api.md §5.8. All asynchronous;
the result's ``content`` carries the attribution.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from bria_dagster.client.types.base import AsyncOnlyRequest
from bria_dagster.client.types.fields import HttpUrl, ImageInput, Text

ImageModelVersion = Literal["2.3", "3.0", "3.2", "4.0"]
VideoModel = Literal[
    "video_generation:1",
    "video_rmbg:1",
    "video_eraser:1",
    "video_mask:1",
    "video_increase_res:1",
]


class ImageAttributionRequest(AsyncOnlyRequest):
    """``POST /v2/image/attribution/by_image``: attribute a generated image."""

    image: ImageInput
    """The generated image (base64 or URL)."""
    model_version: ImageModelVersion
    """The Bria model that generated it."""


class ImageEmbeddingAttributionRequest(AsyncOnlyRequest):
    """``POST /v2/image/attribution/by_embedding``: attribute from irreversible embeddings
    (self-hosted models)."""

    embeddings_base64: Annotated[list[Text], Field(min_length=1)]
    model_version: ImageModelVersion
    embeddings_uid: Text | None = None
    model_name: Text | None = None


class VideoAttributionRequest(AsyncOnlyRequest):
    """``POST /v2/video/attribution/by_video``: attribute a generated or edited video."""

    video: HttpUrl
    model: VideoModel


class VideoEmbeddingAttributionRequest(AsyncOnlyRequest):
    """``POST /v2/video/attribution/by_embedding``: attribute from video embeddings
    (self-hosted models)."""

    model: VideoModel
    video_seconds: Annotated[StrictInt, Field(ge=1)]
    stills_embedding_base64: Text
    motion_embedding_base64: Text
    unique_id: Annotated[str, Field(strict=True, pattern=r"^[0-9a-fA-F-]{32,36}$")] | None = None
    """A UUID identifying the video."""

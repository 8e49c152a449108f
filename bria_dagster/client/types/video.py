"""Video edits and segmentation (v2, asynchronous only) and the local-file upload service.

Inputs are public video URLs (.mp4 .mov .webm .avi .gif, at most 60 s); upload a local file
first with ``client.video.upload(path)``. Sources: Bria's OpenAPI ``video-editing.yml``,
bria-api.md §5.7 (upload: docs.bria.ai/local-video-upload-service).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, StrictInt, model_validator

from bria_dagster.client.types.base import AsyncOnlyRequest, BriaRequest, RuleViolation
from bria_dagster.client.types.fields import (
    ALPHA_CODECS,
    Flag,
    HttpUrl,
    NonNegativeInt,
    Text,
    VideoCodec,
)

BackgroundColor = Literal[
    "Transparent",
    "Black",
    "White",
    "Gray",
    "Red",
    "Green",
    "Blue",
    "Yellow",
    "Cyan",
    "Magenta",
    "Orange",
]


class _VideoJob(AsyncOnlyRequest):
    video: HttpUrl
    """Public URL of the input video."""
    output_container_and_codec: VideoCodec | None = None
    """Output container/codec preset."""


class _VideoEdit(_VideoJob):
    preserve_audio: Flag | None = None
    """Default true: keep the soundtrack."""


class VideoRemoveBackgroundRequest(_VideoEdit):
    """``POST /v2/video/edit/remove_background``.

    A ``Transparent`` background needs an alpha-capable preset (webm_vp9, mkv_vp9,
    mov_proresks); the server answers 422 otherwise. Defaults conflict between sources (schema:
    Black + mp4_h264; observed: Transparent + webm_vp9), so set both when it matters.
    """

    background_color: BackgroundColor | None = None
    """A named colour or ``Transparent`` (no hex values)."""
    auto_zoom: Flag | None = None
    """Default false."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        codec = self.output_container_and_codec
        transparent = self.background_color == "Transparent"
        if transparent and codec is not None and codec not in ALPHA_CODECS:
            raise RuleViolation(
                "output_container_and_codec",
                f"{codec} has no alpha channel; use webm_vp9, mkv_vp9 or mov_proresks",
            )
        return self


def _increase_as_int(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in ("2", "4"):
        return int(value)
    return value


class VideoIncreaseResolutionRequest(_VideoEdit):
    """``POST /v2/video/edit/increase_resolution``: 2x or 4x, up to 8K (422 beyond 7680x4320).

    ``desired_increase`` given as the strings "2"/"4" (as Bria's ComfyUI nodes and older SDK
    send it) is accepted and sent as an integer.
    """

    spec_notes = {"desired_increase": "the strings '2'/'4' sent by ComfyUI are also accepted"}

    desired_increase: Annotated[Literal[2, 4], BeforeValidator(_increase_as_int)] | None = None
    """2 (default) or 4."""


class VideoEraseRequest(_VideoEdit):
    """``POST /v2/video/edit/erase``: erase the region of a mask video (<= 5 s unless
    ``auto_trim``; inputs above 750p are downscaled)."""

    mask: HttpUrl
    """Public URL of the mask video (white = erase)."""
    auto_trim: Flag | None = None
    """Default false: inputs longer than 5 s are refused unless true."""


class VideoReplaceBackgroundRequest(_VideoEdit):
    """``POST /v2/video/edit/replace_background``: a new background image or video (a video
    background must have the input's aspect ratio; it is looped or trimmed)."""

    background_url: HttpUrl
    """Public URL of the background image or video."""


class GreenScreenRequest(_VideoEdit):
    """``POST /v2/video/edit/green_screen``: the subject over a keying colour."""

    green_shade: Literal["broadcast_green", "chroma_green", "blue_screen"] | None = None
    """broadcast_green (#00B140, default), chroma_green (#00FF00) or blue_screen (#0000FF)."""


class MaskByPromptRequest(_VideoJob):
    """``POST /v2/video/segment/mask_by_prompt``: a mask video of what the prompt names
    (<= 5 s, <= 750p). Result: ``mask_url``."""

    prompt: Text
    auto_trim: Flag | None = None


class KeyPoint(BriaRequest):
    """A click on the frame: ``positive`` includes the object under it, ``negative`` excludes."""

    spec_notes = {
        "x": "required (a key point without coordinates means nothing)",
        "y": "required (a key point without coordinates means nothing)",
    }

    x: Annotated[StrictInt, Field(ge=0)]
    y: Annotated[StrictInt, Field(ge=0)]
    type: Literal["positive", "negative"] | None = None


class MaskByKeyPointsRequest(_VideoJob):
    """``POST /v2/video/segment/mask_by_key_points``: a mask video of the clicked object."""

    key_points: Annotated[list[KeyPoint], Field(min_length=1)]
    frame_index: NonNegativeInt | None = None
    """The frame the key points refer to."""
    auto_trim: Flag | None = None


class ForegroundMaskRequest(_VideoJob):
    """``POST /v2/video/generate/foreground_mask``: a mask video of the foreground."""


class VideoUploadRequest(BriaRequest):
    """``POST /v2/video/upload``: a presigned upload slot for a local video (<= 1 GB).

    Not in Bria's OpenAPI files (docs.bria.ai/local-video-upload-service, bria-client).
    Answer: ``upload_url`` + ``upload_fields`` (POST the file there within an hour) and the
    ``file_url`` to pass as ``video`` (valid about a day).
    """

    spec_notes = {"media_type": "endpoint absent from the spec (Bria docs, bria-client)"}

    media_type: Annotated[str, Field(strict=True, pattern=r"^video/[\w.+-]+$")] | None = None
    """The file's MIME type, e.g. ``video/mp4``."""

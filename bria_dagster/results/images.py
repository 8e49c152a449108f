"""What a stored result is: its format, size in pixels, alpha, and a small preview for the UI."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

from bria_dagster.video_files import VIDEO_CONTENT_TYPES, VideoFacts, inspect_video, poster_frame

PREVIEW_MAX_SIDE = 256
"""Longest side of the preview embedded in metadata (tens of KB: Dagster keeps metadata small)."""

_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
_BY_CONTENT_TYPE: dict[str, str] = {**VIDEO_CONTENT_TYPES, "application/json": "bin"}


@dataclass(frozen=True)
class ImageFacts:
    """A decoded image's facts. ``has_alpha`` is True only when some pixel is not opaque."""

    format: str
    width: int
    height: int
    mode: str
    has_alpha: bool
    frames: int

    @property
    def content_type(self) -> str:
        """The MIME type of the format."""
        return _FORMATS.get(self.format, ("application/octet-stream", "bin"))[0]

    @property
    def extension(self) -> str:
        """The file extension of the format."""
        return _FORMATS.get(self.format, ("application/octet-stream", "bin"))[1]


def inspect_image(file: IO[bytes]) -> ImageFacts | None:
    """Decode the image in ``file`` (from its start); None when it is not an image Pillow reads."""
    return _decode(file, None)[0]


def _decode(file: IO[bytes], preview_side: int | None) -> tuple[ImageFacts | None, str | None]:
    """The image's facts and, when ``preview_side`` is given, its preview, from one decode."""
    file.seek(0)
    try:
        with Image.open(file) as image:
            image.load()
            alpha = _has_real_alpha(image)
            facts = ImageFacts(
                format=image.format or "",
                width=image.width,
                height=image.height,
                mode=image.mode,
                has_alpha=alpha,
                frames=getattr(image, "n_frames", 1),
            )
            if preview_side is None:
                return facts, None
            if facts.frames > 1:
                image.seek(0)
            return facts, thumbnail_data_uri(image, preview_side)
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None
    finally:
        file.seek(0)


def _has_real_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return _lowest_alpha(image.convert("RGBA")) < 255
    return False


def _lowest_alpha(image: Image.Image) -> float:
    lowest = image.getchannel("A").getextrema()[0]
    assert not isinstance(lowest, tuple)  # one channel: (min, max)
    return lowest


VIDEO_ENDPOINT_PREFIX = "/v2/video/"


@dataclass(frozen=True)
class ResultFacts:
    """What decoding a stored result found: image facts (Pillow), video facts (PyAV), both for
    an animated GIF a video endpoint made, or neither."""

    image: ImageFacts | None
    video: VideoFacts | None
    preview: str | None = None
    """A ``data:`` URI thumbnail (an image's, or a video's poster frame), when it was asked for:
    made from the same decode, so whoever shows the result need not decode it again."""

    @property
    def width(self) -> int | None:
        """Width in pixels."""
        return self.video.width if self.video else self.image.width if self.image else None

    @property
    def height(self) -> int | None:
        """Height in pixels."""
        return self.video.height if self.video else self.image.height if self.image else None

    @property
    def has_alpha(self) -> bool | None:
        """Whether some pixel (of a video: of its first frame) is not opaque."""
        if self.video:
            return self.video.has_alpha
        return self.image.has_alpha if self.image else None


def inspect_result(
    file: IO[bytes], content_type: str | None, endpoint: str, *, preview: bool = False
) -> ResultFacts:
    """Decode a stored (or downloaded) result: as an image, and as a video when it comes from a
    video endpoint or is served as ``video/*`` (streamed: memory stays flat). With ``preview``,
    also its thumbnail (:data:`PREVIEW_MAX_SIDE`), made from the image this call decodes."""
    image, thumbnail = _decode(file, PREVIEW_MAX_SIDE if preview else None)
    maybe_video = endpoint.startswith(VIDEO_ENDPOINT_PREFIX) or _base(content_type).startswith(
        "video/"
    )
    video = inspect_video(file) if maybe_video else None
    if preview and image is None and video is not None:
        thumbnail = poster_data_uri(file)
    return ResultFacts(image, video, thumbnail)


def extension_for(facts: ResultFacts, content_type: str | None) -> tuple[str, str]:
    """(content type, extension) for a stored result: a video's served type (else its
    container's), an image's decoded format, else the host's content type, else generic."""
    base = _base(content_type)
    if facts.video is not None and facts.image is None:
        if base in VIDEO_CONTENT_TYPES:
            return base, VIDEO_CONTENT_TYPES[base]
        return facts.video.content_type, facts.video.extension
    image = facts.image
    if image is not None and image.format in _FORMATS:
        return _FORMATS[image.format]
    if base in _BY_CONTENT_TYPE:
        return base, _BY_CONTENT_TYPE[base]
    return "application/octet-stream", "bin"


def _base(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def poster_data_uri(file: IO[bytes], max_side: int = PREVIEW_MAX_SIDE) -> str | None:
    """A ``data:`` URI of a video's first frame (its poster), or None if it is not a video."""
    poster = poster_frame(file)
    return thumbnail_data_uri(poster, max_side) if poster is not None else None


def preview_data_uri(file: IO[bytes], max_side: int = PREVIEW_MAX_SIDE) -> str | None:
    """A ``data:`` URI of a thumbnail (PNG when the image has alpha, else JPEG); None if the
    file is not an image."""
    file.seek(0)
    try:
        with Image.open(file) as image:
            image.seek(0)
            return thumbnail_data_uri(image, max_side)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    finally:
        file.seek(0)


def thumbnail_data_uri(image: Image.Image, max_side: int = PREVIEW_MAX_SIDE) -> str:
    """A ``data:`` URI of ``image`` fitted in ``max_side`` (PNG with alpha, else JPEG): the
    preview of an image, or of a video's poster frame. ``image`` is left as it is."""
    # Shrunk before any conversion: converting the full-size image cost more than the shrinking.
    source = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGBA")
    scale = min(1.0, max_side / max(source.width, source.height, 1))
    size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    # A box reduction to near the size, then bicubic: a third of the cost of Pillow's default
    # thumbnail (reducing_gap 2), indistinguishable at this size.
    thumb = source.resize(size, Image.Resampling.BICUBIC, reducing_gap=1.0)
    out = io.BytesIO()
    if thumb.mode == "RGBA" and _lowest_alpha(thumb) < 255:
        thumb.save(out, "PNG", optimize=True)
        kind = "png"
    else:
        thumb.convert("RGB").save(out, "JPEG", quality=80)
        kind = "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(out.getvalue()).decode('ascii')}"

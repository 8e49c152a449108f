"""What a stored result is: its format, size in pixels, alpha, and a small preview for the UI."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

PREVIEW_MAX_SIDE = 256
"""Longest side of the preview embedded in metadata (tens of KB: Dagster keeps metadata small)."""

_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
_BY_CONTENT_TYPE: dict[str, str] = {
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "application/json": "bin",
}


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
    file.seek(0)
    try:
        with Image.open(file) as image:
            image.load()
            alpha = _has_real_alpha(image)
            return ImageFacts(
                format=image.format or "",
                width=image.width,
                height=image.height,
                mode=image.mode,
                has_alpha=alpha,
                frames=getattr(image, "n_frames", 1),
            )
    except (UnidentifiedImageError, OSError, ValueError):
        return None
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


def extension_for(facts: ImageFacts | None, content_type: str | None) -> tuple[str, str]:
    """(content type, extension) for a stored result: from the decoded format, else the host's
    content type, else a generic binary."""
    if facts is not None and facts.format in _FORMATS:
        return _FORMATS[facts.format]
    base = (content_type or "").split(";")[0].strip().lower()
    if base in _BY_CONTENT_TYPE:
        return base, _BY_CONTENT_TYPE[base]
    return "application/octet-stream", "bin"


def preview_data_uri(file: IO[bytes], max_side: int = PREVIEW_MAX_SIDE) -> str | None:
    """A ``data:`` URI of a thumbnail (PNG when the image has alpha, else JPEG); None if the
    file is not an image."""
    file.seek(0)
    try:
        with Image.open(file) as image:
            image.seek(0)
            thumb = image.convert("RGBA")
            thumb.thumbnail((max_side, max_side))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    finally:
        file.seek(0)
    out = io.BytesIO()
    if _lowest_alpha(thumb) < 255:
        thumb.save(out, "PNG", optimize=True)
        kind = "png"
    else:
        thumb.convert("RGB").save(out, "JPEG", quality=80)
        kind = "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(out.getvalue()).decode('ascii')}"

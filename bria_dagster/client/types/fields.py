"""Field types shared by the request models: images, videos, URLs, structured prompts, enums.

Every type here validates a wire body (plain JSON values, as the emulator receives them) and, for
images, also the richer inputs a Python caller may pass (paths, bytes, PIL images), which
:meth:`BriaRequest.to_payload` turns into the API's form through ``to_api_image``.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal, TypeAlias

from PIL import Image as PILImage
from pydantic import (
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)


class ImageMarker:
    """Metadata marking a field (or list item) as an image input, normalised at payload time."""

    def __repr__(self) -> str:
        return "ImageMarker()"


IMAGE = ImageMarker()

ImageValue: TypeAlias = str | bytes | os.PathLike[str] | PILImage.Image
"""What an image field accepts from Python: a public URL, raw base64, a data URI, a file path,
bytes or a PIL image. On the wire it is always a URL or bare base64."""


def _check_image(value: Any) -> ImageValue:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        if not value:
            raise ValueError("must not be empty bytes")
        return bytes(value)
    if isinstance(value, os.PathLike):
        return value
    if isinstance(value, PILImage.Image):
        return value
    raise ValueError(
        "expected an image: a public URL, base64 string, data URI, file path, bytes or PIL image"
        f" (got {type(value).__name__})"
    )


ImageInput = Annotated[
    ImageValue,
    PlainValidator(_check_image),
    WithJsonSchema({"type": "string", "description": "Public URL or base64-encoded image"}),
    IMAGE,
]
"""An image: URL passed through; base64 / data URI / path / bytes / PIL sent as bare base64."""


def _check_json_object(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a JSON object, as text or a dict (got {type(value).__name__})")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object ({...})")
    return value


JsonObjectText = Annotated[
    str,
    PlainValidator(_check_json_object),
    WithJsonSchema({"type": "string", "contentMediaType": "application/json"}),
]
"""A JSON object carried as a string (structured prompts, visual schemas, captions).
A dict is accepted from Python and serialised; malformed JSON is refused (Bria answers 400)."""

NOT_BLANK = r"\S"
URL_PATTERN = r"^https?://\S+$"
HEX_COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
PATTERN_MESSAGES: dict[str, str] = {
    NOT_BLANK: "must not be blank",
    URL_PATTERN: "must be an absolute http(s) URL",
    HEX_COLOR_PATTERN: "must be a hex colour such as #FF5733",
}
"""Readable messages for the string patterns below (used when converting errors)."""

Text = Annotated[StrictStr, StringConstraints(min_length=1, pattern=NOT_BLANK)]
"""A non-blank string."""

OptionalText = StrictStr
"""A string that may be empty (e.g. expand's prompt: empty means 'write one for me')."""

HttpUrl = Annotated[StrictStr, StringConstraints(pattern=URL_PATTERN, max_length=8192)]
"""An absolute http(s) URL, kept exactly as given (no normalisation)."""

HexColor = Annotated[StrictStr, StringConstraints(pattern=HEX_COLOR_PATTERN)]

Seed = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]
"""A generation seed (non-negative 64-bit integer)."""

Flag = StrictBool

PositiveInt = Annotated[StrictInt, Field(ge=1)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]


def _id_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdText = Annotated[
    Text,
    BeforeValidator(_id_as_text),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}),
]
"""An identifier the API types as a string; an int (as the listings return it) is accepted."""

Size = Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
"""``[width, height]`` in pixels."""

Point = Annotated[list[StrictInt], Field(min_length=2, max_length=2)]
"""``[x, y]`` in pixels (may be negative: the image is then cropped)."""

AspectRatio = Literal["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9"]
"""The nine standard aspect ratios ("std9")."""

STANDARD_ASPECT_RATIOS: tuple[str, ...] = (
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
)

ExtendedAspectRatio = Literal[
    "16:10", "10:16", "2:1", "1:2", "21:9", "9:21", "3:1", "1:3", "4:1", "1:4", "5:1", "1:5"
]
"""FIBO 2.0 extra ratios (1MP only, prompt or structured_prompt input, no images)."""

OutputType = Literal["png", "jpeg"]

VideoCodec = Literal[
    "mp4_h264",
    "mp4_h265",
    "webm_vp9",
    "mov_h265",
    "mov_proresks",
    "mkv_h264",
    "mkv_h265",
    "mkv_vp9",
    "gif",
]
"""``output_container_and_codec`` presets of the video endpoints."""

ALPHA_CODECS: frozenset[str] = frozenset({"webm_vp9", "mkv_vp9", "mov_proresks"})
"""Presets the server accepts with a transparent background (bria-api.md §5.7, live notes)."""


OPEN_ENUM: Any = Field(json_schema_extra={"x-open-enum": True})
"""Annotated metadata for ``Literal[...] | Text``: the listed values complete in editors, and the
API also accepts free text (documented as "enum or custom text")."""

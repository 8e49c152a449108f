"""Reading an operation's inputs: public URLs, this emulator's own file URLs, base64, data URIs.

Error codes, chosen from bria-api.md §1.3 and §2.3:

- not a string, or an empty one: 400 naming the field;
- a URL that cannot be fetched (connection error, non-2xx, expired emulator URL): 460
  "Failed to download image";
- larger than the cap (12 MB, as Bria's 413): 413;
- a string that is neither a URL nor valid base64: 415 (an unsupported file, as the emulator
  blueprint in bria-api.md §8 says); the same for an image Pillow cannot identify or that is not
  JPEG/PNG/WEBP;
- an image that is identified but cannot be decoded (truncated, corrupt): 422 "invalid image data".

:func:`check_image_inputs` applies the size and type rules at submit time, before a job exists
(Bria's OpenAPI lists 413 and 415 as answers of the POST itself); a URL is looked at with a HEAD
request there, and fetched only when the job runs.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING, Protocol

import httpx
from PIL import Image, UnidentifiedImageError

from bria_dagster.emulator.backends.files import FileAccessError
from bria_dagster.emulator.errors import ApiError

if TYPE_CHECKING:
    from pathlib import Path

    from bria_dagster.emulator.backends.files import FileStore
    from bria_dagster.emulator.config import EmulatorConfig

IMAGE_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MB = 1024 * 1024
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""Content types that say nothing about the bytes: such a URL is judged when it is fetched."""


class InputSource(Protocol):
    """Where inputs are read from (the emulator's state provides it)."""

    @property
    def config(self) -> EmulatorConfig:
        """``max_input_bytes`` and ``fetch_timeout_s``."""
        ...

    @property
    def files(self) -> FileStore:
        """This emulator's result files (its own URLs are read from disk)."""
        ...

    @property
    def base_url(self) -> str:
        """The URL this emulator is reached at."""
        ...

    @property
    def http(self) -> httpx.Client:
        """Fetches public URLs."""
        ...


def _too_large(field: str, size: int, cap: int) -> ApiError:
    return ApiError(
        413,
        "Payload too large",
        f"{field}: the file is {size} bytes; the limit is {cap // MB} MB",
    )


def _download_failed(field: str, why: str) -> ApiError:
    return ApiError(460, "Failed to download image", f"{field}: {why}")


def _own_file(source: InputSource, url: str, field: str) -> Path | None:
    """The file behind one of this emulator's own URLs (None for any other URL), within the
    size cap (413). FileAccessError when it is unknown, expired or not available yet."""
    own = source.files.resolve(source.base_url, url)
    if own is None:
        return None
    if own.size > source.config.max_input_bytes:
        raise _too_large(field, own.size, source.config.max_input_bytes)
    return own.path


def _check_declared_size(headers: httpx.Headers, field: str, cap: int) -> None:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(field, int(declared), cap)


def fetch_url(source: InputSource, url: str, field: str) -> bytes:
    """Download a URL (or read this emulator's own file directly), within the size cap."""
    cap = source.config.max_input_bytes
    try:
        own = _own_file(source, url, field)
    except FileAccessError as exc:
        raise _download_failed(field, f"HTTP {exc.status} ({exc.reason})") from None
    if own is not None:
        return own.read_bytes()
    try:
        with source.http.stream("GET", url, timeout=source.config.fetch_timeout_s) as response:
            if response.status_code >= 400:
                raise _download_failed(field, f"HTTP {response.status_code} from {url}")
            _check_declared_size(response.headers, field, cap)
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > cap:
                    raise _too_large(field, len(data), cap)
            return bytes(data)
    except httpx.HTTPError as exc:
        raise _download_failed(field, f"{type(exc).__name__} for {url}") from None


def decode_base64(value: str, field: str, cap: int) -> bytes:
    """Decode raw base64 or a ``data:...;base64,`` URI, within the size cap."""
    payload = value.partition(",")[2] if value.startswith("data:") else value
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > cap + 3:
        raise _too_large(field, len(payload) * 3 // 4, cap)
    try:
        data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            415, "Unsupported file type", f"{field}: not a URL and not valid base64"
        ) from None
    if len(data) > cap:
        raise _too_large(field, len(data), cap)
    return data


def load_bytes(source: InputSource, value: object, field: str) -> bytes:
    """The bytes an input field names (URL or base64)."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "Invalid input", f"{field}: must be a URL or a base64 string")
    text = value.strip()
    if text.startswith(("http://", "https://")):
        return fetch_url(source, text, field)
    return decode_base64(text, field, source.config.max_input_bytes)


def _unsupported(field: str, why: str) -> ApiError:
    return ApiError(415, "Unsupported file type", f"{field}: {why}")


def _probe_url(source: InputSource, url: str, field: str) -> None:
    try:
        own = _own_file(source, url, field)
    except FileAccessError:
        return  # the job answers 460
    if own is not None:
        identify_image(own.read_bytes(), field)
        return
    try:
        head = source.http.head(url, timeout=source.config.fetch_timeout_s)
    except httpx.HTTPError:
        return  # unreachable: the job answers 460
    if head.status_code >= 400:
        return
    _check_declared_size(head.headers, field, source.config.max_input_bytes)
    content_type = head.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in _UNTYPED and not content_type.startswith("image/"):
        raise _unsupported(field, f"{url} is {content_type}, not an image (JPEG, PNG or WEBP)")


def check_image_inputs(
    source: InputSource, body: dict[str, object], fields: tuple[str, ...]
) -> None:
    """Refuse, before a job exists, image inputs over the size cap (413) or that are not images
    (415). Blocking (HEAD requests, base64 decoding): call it from a worker thread."""
    for name in fields:
        value = body.get(name)
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            if not isinstance(item, str) or not item.strip():
                continue
            field = f"{name}[{index}]" if isinstance(value, list) else name
            text = item.strip()
            if text.startswith(("http://", "https://")):
                _probe_url(source, text, field)
            else:
                identify_image(decode_base64(text, field, source.config.max_input_bytes), field)


def identify_image(data: bytes, field: str) -> Image.Image:
    """Read an image's header (not its pixels): JPEG, PNG or WEBP only, else 415."""
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(
            415, "Unsupported file type", f"{field}: not an image (use JPEG, PNG or WEBP)"
        ) from None
    except Image.DecompressionBombError:
        raise ApiError(
            413, "Payload too large", f"{field}: the image has too many pixels"
        ) from None
    if image.format not in IMAGE_FORMATS:
        raise ApiError(
            415, "Unsupported file type", f"{field}: {image.format} is not JPEG, PNG or WEBP"
        )
    return image


def open_image(data: bytes, field: str) -> Image.Image:
    """Decode image bytes: JPEG, PNG or WEBP only."""
    image = identify_image(data, field)
    try:
        image.load()
    except (OSError, ValueError, SyntaxError):
        raise ApiError(422, "Invalid image data", f"{field}: the image cannot be decoded") from None
    return image

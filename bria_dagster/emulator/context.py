"""The :class:`~bria_dagster.emulator.contract.OperationContext` the core hands each job.

Moderation triggers (``EmulatorConfig.moderation_trigger``, default ``[moderate]``):

- text: :meth:`JobContext.check_moderation` answers 422 when the text contains the trigger
  (case-insensitive);
- images: :meth:`JobContext.check_image_moderation` answers 422 when any text metadata of the
  image (PNG text chunks, JPEG/WEBP comments) contains it, so a test can make a "flagged" image
  with ``PngInfo().add_text("comment", "[moderate]")``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.inputs import InputSource, load_bytes, open_image

if TYPE_CHECKING:
    from bria_dagster.emulator.backends.jobs import JobStore
    from bria_dagster.emulator.config import EmulatorConfig

_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class JobHost(InputSource, Protocol):
    """What a job's context uses of the emulator's state (``EmulatorState`` provides it)."""

    @property
    def extensions(self) -> dict[str, Any]:
        """The state route providers keep."""
        ...

    @property
    def jobs(self) -> JobStore:
        """All jobs (a placeholder job's files wait for its end)."""
        ...

    def store_bytes(
        self, data: bytes, content_type: str, extension: str, *, endpoint: str, available_at: float
    ) -> str:
        """Store a result file and return its URL."""
        ...


class JobContext:
    """Inputs and outputs for one job (implements ``OperationContext``)."""

    def __init__(self, state: JobHost, request_id: str, seed: int, endpoint: str) -> None:
        self.request_id = request_id
        self.seed = seed
        self.endpoint = endpoint
        self._state = state

    @property
    def config(self) -> EmulatorConfig:
        """The emulator's settings (``output_megapixels``, ``training_seconds``, ...)."""
        return self._state.config

    @property
    def extensions(self) -> dict[str, Any]:
        """The state route providers keep (``EmulatorState.extensions``), e.g. tailored models."""
        return self._state.extensions

    def load_bytes(self, value: Any, field: str) -> bytes:
        """Fetch a URL or decode base64 / a data URI (ApiError 400, 413, 415 or 460)."""
        return load_bytes(self._state, value, field)

    def load_image(self, value: Any, field: str) -> Image.Image:
        """Decode an image input (ApiError 400, 413, 415, 422 or 460)."""
        return open_image(self.load_bytes(value, field), field)

    def store_bytes(self, data: bytes, content_type: str, extension: str) -> str:
        """Store a result file and return its expiring URL (a placeholder job's file answers
        404 until the job's latency has passed)."""
        job = self._state.jobs.get(self.request_id)
        available_at = job.done_at if job is not None and job.placeholder else 0.0
        return self._state.store_bytes(
            data, content_type, extension, endpoint=self.endpoint, available_at=available_at
        )

    def store_image(self, image: Image.Image, fmt: str = "PNG") -> str:
        """Encode (PNG, JPEG or WEBP) and store an image; return its expiring URL."""
        fmt = fmt.upper().replace("JPG", "JPEG")
        if fmt not in _CONTENT_TYPES:
            raise ValueError(f"fmt: {fmt!r} is not PNG, JPEG or WEBP")
        if fmt == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        extension = "jpg" if fmt == "JPEG" else fmt.lower()
        return self.store_bytes(buffer.getvalue(), _CONTENT_TYPES[fmt], extension)

    def check_moderation(self, text: str | None, field: str) -> None:
        """Raise ApiError 422 when ``text`` carries the moderation trigger."""
        trigger = self._state.config.moderation_trigger.lower()
        if text and trigger in text.lower():
            raise ApiError(422, "Content moderation failed", f"{field}: flagged by moderation")

    def check_image_moderation(self, image: Image.Image, field: str) -> None:
        """Raise ApiError 422 when the image's text metadata carries the moderation trigger."""
        trigger = self._state.config.moderation_trigger.lower()
        texts = [v for v in image.info.values() if isinstance(v, str | bytes)]
        for text in texts:
            value = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
            if trigger in value.lower():
                raise ApiError(422, "Content moderation failed", f"{field}: flagged by moderation")

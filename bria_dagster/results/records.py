"""The record of one stored result, as metadata carries it and as downstream steps read it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METADATA_IMAGES = "bria/images"
"""Metadata entry holding every stored result of a materialization (a JSON list of records)."""


@dataclass(frozen=True)
class ImageRecord:
    """One stored result of a Bria request."""

    partition_key: str | None
    variant: str | None
    request_id: str
    endpoint: str
    uri: str
    key: str
    size: int
    sha256: str
    content_type: str
    width: int | None = None
    height: int | None = None
    has_alpha: bool | None = None
    seed: int | None = None
    prompt: str | None = None
    refined_prompt: str | None = None
    structured_prompt: str | None = None
    reused: bool = False
    result_url: str | None = None
    """Bria's signed URL of the result (expires: 3 days for v2, 1 hour for v1); a later step
    that needs a public URL input (ads layers) can pass it."""
    submitted_at: float | None = None
    completed_at: float | None = None
    stored_at: float | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    """What the checks verify: ``aspect_ratio`` "w:h", ``width``/``height``, ``alpha``, and for
    a video edit ``source_video`` (the input's URL) and ``duration_s`` (the input's duration,
    when an upstream record knew it)."""
    duration_s: float | None = None
    """A video's duration in seconds (None for an image)."""
    fps: float | None = None
    """A video's frame rate."""
    frames: int | None = None
    """A video's frame count."""
    codec: str | None = None
    """A video's codec (FFmpeg's name: h264, hevc, vp9, prores, gif)."""

    @property
    def is_video(self) -> bool:
        """Whether the stored result is a video (it has a duration)."""
        return self.duration_s is not None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRecord:
        """Read a record back (unknown keys from newer versions are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_(self, **changes: Any) -> ImageRecord:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

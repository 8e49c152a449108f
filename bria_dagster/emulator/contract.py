"""The contract between the emulator's server core and its operations.

The core (``app.py``) owns HTTP: auth, rate limits, the 202/status lifecycle, sync answers,
webhooks, result files, faults and stats. An operation (``handlers/*.py``) owns one endpoint's
meaning: it validates a body and computes a result, raising
:class:`~bria_dagster.emulator.errors.ApiError`. Operations register :class:`JobOperation`
objects (POST endpoints that make a job); plain routes for CRUD surfaces (tailored
projects/datasets/models, ads brands/templates, video upload) come from
:class:`~bria_dagster.emulator.routing.RouteProvider` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bria_dagster.client.catalog.registry import SyncMode
from bria_dagster.client.errors import BriaInputError
from bria_dagster.emulator.errors import ApiError

if TYPE_CHECKING:
    from PIL import Image

    from bria_dagster.client.types import BriaRequest
    from bria_dagster.emulator.config import EmulatorConfig


class OperationContext(Protocol):
    """What an operation may use while it runs (provided by the core, one per job)."""

    request_id: str
    endpoint: str
    """The operation's path."""

    @property
    def config(self) -> EmulatorConfig:
        """The emulator's settings (``output_megapixels``, ``training_seconds``, ...)."""
        ...

    seed: int
    """The job's seed: the body's ``seed`` if given, else one the core drew."""

    @property
    def extensions(self) -> dict[str, Any]:
        """The state route providers keep (``EmulatorState.extensions``), e.g. tailored models."""
        ...

    def load_image(self, value: Any, field: str) -> Image.Image:
        """Decode a URL / raw base64 / data-URI input; ApiError 460, 415 or 413 on failure."""
        ...

    def load_bytes(self, value: Any, field: str) -> bytes:
        """Fetch a URL or decode base64 into bytes (videos, zips); ApiError 460 on failure."""
        ...

    def store_image(self, image: Image.Image, fmt: str = "PNG") -> str:
        """Store an image as a result file and return its (expiring) URL."""
        ...

    def store_bytes(self, data: bytes, content_type: str, extension: str) -> str:
        """Store raw bytes as a result file and return its (expiring) URL."""
        ...

    def check_moderation(self, text: str | None, field: str) -> None:
        """Raise ApiError 422 when the text carries the emulator's moderation trigger."""
        ...

    def check_image_moderation(self, image: Image.Image, field: str) -> None:
        """Raise ApiError 422 when the image's text metadata carries the moderation trigger."""
        ...


WARNING_KEY = "_warning"
"""A key ``validate`` may add to the body it returns: the ``ip_signal`` warning text. The core
removes it from the body and answers it as the top-level ``warning`` (202, sync 200, status).
A ``warning`` key in ``execute``'s result is moved to the top level the same way."""


@dataclass(frozen=True)
class JobOperation:
    """One POST endpoint that creates a job."""

    path: str
    """Full path, e.g. ``/v2/image/edit/remove_background``."""
    family: str
    """Latency family (a key of ``bria_dagster.client.catalog.families.FAMILIES``)."""
    sync: SyncMode
    """The catalog entry's mode: ``refused`` answers ``sync=true`` with a 400."""
    validate: Callable[[dict[str, Any]], dict[str, Any]]
    """Check the body (required fields, enums, ranges, exclusive inputs); raise ApiError (400,
    413, 415, 422). Returns the body with defaults applied. Must not do network I/O."""
    execute: Callable[[OperationContext, dict[str, Any]], dict[str, Any]]
    """Do the work (in a worker thread) and return the ``result`` object, e.g.
    ``{"image_url": ..., "seed": ...}``. May raise ApiError (460 for an unreachable input)."""
    v1_body: Callable[[dict[str, Any]], Any] | None = None
    """For ``sync="always"``: turn the result into the v1 response body."""
    image_fields: tuple[str, ...] = ()
    """Body fields holding image inputs (a URL or base64, or a list of them). The core checks
    them before it makes a job, as Bria does on the POST: over the size cap → 413, not an image →
    415, with no job and nothing billed. An input that cannot be fetched is left to ``execute``
    (460)."""
    sync_result: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """For a ``sync=true`` answer whose result names fields differently from the polled one
    (FIBO ``/v2/image/edit``: ``structured_instruction`` sync, ``structured_prompt`` polled)."""


def check_request(model: type[BriaRequest], body: dict[str, Any]) -> None:
    """Validate a body with the client's catalog model (one set of rules for the client and the
    emulator): ApiError 400 naming the field."""
    try:
        model.parse(body)
    except BriaInputError as exc:
        raise ApiError(400, "Invalid request", str(exc)) from None

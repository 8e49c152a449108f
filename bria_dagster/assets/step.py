"""What a request builder receives: the partition and the upstream assets' stored images."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import PIL.Image

from bria_dagster.client.errors import BriaInputError
from bria_dagster.results.records import ImageRecord
from bria_dagster.storage import ObjectStore


@dataclass(frozen=True)
class BriaImage:
    """An image a Bria asset stored: what a downstream step's ``step.image`` and a plain
    ``@asset`` input (through :class:`~bria_dagster.assets.io_manager.BriaImageIOManager`) get.

    Nothing is read until asked: ``read_bytes()`` (or ``data``) reads the bytes from the object
    store, ``open_image()`` decodes them with Pillow; ``uri``, ``record`` and ``metadata`` come
    from the materialization. Pass ``data`` as a request's image field and the client sends it
    as base64 (the ledger hashes it by content, so a re-run hashes the same).
    """

    asset_key: str
    record: ImageRecord
    store: ObjectStore = field(repr=False, compare=False)

    @property
    def uri(self) -> str:
        """Where the image is stored."""
        return self.record.uri

    @property
    def width(self) -> int | None:
        """Width in pixels."""
        return self.record.width

    @property
    def height(self) -> int | None:
        """Height in pixels."""
        return self.record.height

    @property
    def variant(self) -> str | None:
        """The variant name when the upstream step made several images per partition."""
        return self.record.variant

    @property
    def result_url(self) -> str | None:
        """Bria's own (expiring) URL of the image, for inputs that must be public URLs."""
        return self.record.result_url

    @property
    def partition_key(self) -> str | None:
        """The partition the image was made for (None when unpartitioned)."""
        return self.record.partition_key

    @property
    def metadata(self) -> dict[str, Any]:
        """Every recorded fact (request id, endpoint, prompt, seed, sha256, size, ...)."""
        return self.record.as_json()

    @property
    def data(self) -> bytes:
        """The image's bytes, read from the object store."""
        return self.read_bytes()

    def read_bytes(self) -> bytes:
        """The image's bytes, read from the object store (each call reads them again)."""
        return self.store.read_bytes(self.record.key)

    def open_image(self) -> PIL.Image.Image:
        """The image decoded with Pillow (fully loaded)."""
        image = PIL.Image.open(io.BytesIO(self.read_bytes()))
        image.load()
        return image


UpstreamImage = BriaImage
"""The former name of :class:`BriaImage`."""


@dataclass(frozen=True)
class StepInput:
    """Passed to a request builder once per partition.

    ``partition_key`` is the run's partition key (None when unpartitioned); ``dimensions`` maps a
    multi-partition's dimension names to their keys; ``upstream`` maps each upstream asset key
    (``"a/b"``) to the images it stored for this partition; ``tailored_models`` the ids of the
    upstream tailored models (:func:`~bria_dagster.assets.bria_tailored_model`).
    """

    asset_key: str
    partition_key: str | None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    upstream: Mapping[str, tuple[UpstreamImage, ...]] = field(default_factory=dict)
    tailored_models: Mapping[str, int] = field(default_factory=dict)
    """The upstream tailored model assets' latest trained model ids, by asset key."""

    @property
    def tailored_model_id(self) -> str:
        """The id of the single upstream tailored model (as ``tailored_model_id`` takes it);
        an error naming the asset if there are none or several."""
        if len(self.tailored_models) != 1:
            raise BriaInputError(
                "upstream",
                f"{self.asset_key} expects exactly one upstream tailored model, found "
                f"{len(self.tailored_models)}",
            )
        return str(next(iter(self.tailored_models.values())))

    @property
    def images(self) -> tuple[UpstreamImage, ...]:
        """Every upstream image of this partition, in upstream order."""
        return tuple(image for images in self.upstream.values() for image in images)

    @property
    def image(self) -> UpstreamImage:
        """The single upstream image; an error naming the asset if there are none or several."""
        found = self.images
        if len(found) != 1:
            raise BriaInputError(
                "upstream",
                f"{self.asset_key} expects exactly one upstream image for partition "
                f"{self.partition_key!r}, found {len(found)}; use step.images or "
                "step.upstream[...] to pick",
            )
        return found[0]

    def variant(self, name: str) -> UpstreamImage:
        """The upstream image of variant ``name`` (a step that made several per partition)."""
        for image in self.images:
            if image.variant == name:
                return image
        names = sorted(str(image.variant) for image in self.images)
        raise BriaInputError("variant", f"no upstream image {name!r}; there are {names}")

"""Attach the grouped namespaces to the client classes.

``BriaClient(CatalogMixin[Sync])`` and ``AsyncBriaClient(CatalogMixin[Async])`` gain
``client.image``, ``client.edit``, ``client.product``, ``client.ads``, ``client.tailored``,
``client.video`` and ``client.attribution``. The namespaces are made on first use and call
back into the client's ``run`` / ``submit`` / ``wait`` / ``request`` methods; whether they
return values or coroutines follows ``client.run``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Generic

from bria_dagster.client.catalog.binding import ModeT
from bria_dagster.client.catalog.namespaces import (
    AdsNamespace,
    AttributionNamespace,
    EditNamespace,
    ImageNamespace,
    ProductNamespace,
    VideoNamespace,
)
from bria_dagster.client.catalog.tailored_ops import TailoredNamespace


class CatalogMixin(Generic[ModeT]):
    """Adds every Bria capability as grouped, typed methods (see the package docstring)."""

    @cached_property
    def image(self) -> ImageNamespace[ModeT]:
        """FIBO generation and structured prompts."""
        return ImageNamespace(self)

    @cached_property
    def edit(self) -> EditNamespace[ModeT]:
        """Image editing: background, erase, fill, expand, enhance, upscale, FIBO edits."""
        return EditNamespace(self)

    @cached_property
    def product(self) -> ProductNamespace[ModeT]:
        """Product imagery: cut-outs, packshots, shadows, lifestyle shots, vehicles."""
        return ProductNamespace(self)

    @cached_property
    def ads(self) -> AdsNamespace[ModeT]:
        """Ads: template generation, brands, templates, delayer, resize."""
        return AdsNamespace(self)

    @cached_property
    def tailored(self) -> TailoredNamespace[ModeT]:
        """Tailored models: generation, projects, datasets, images, models, training."""
        return TailoredNamespace(self)

    @cached_property
    def video(self) -> VideoNamespace[ModeT]:
        """Video edits, masks and uploads."""
        return VideoNamespace(self)

    @cached_property
    def attribution(self) -> AttributionNamespace[ModeT]:
        """Attribution of generated images and videos."""
        return AttributionNamespace(self)

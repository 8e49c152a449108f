"""What the job handlers of every family share: reading inputs (with moderation), output size,
the tailored-model check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from bria_dagster.emulator.backends.tailored import trained_model
from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.errors import ApiError

Body = dict[str, Any]
Work = Callable[[OperationContext, Body], Body]
"""A job's work: the ``execute`` of a :class:`~bria_dagster.emulator.contract.JobOperation`."""
V1Body = Callable[[Body], Any]
"""Turns a result into a v1 endpoint's answer."""


def megapixels(ctx: OperationContext, body: Body) -> float:
    """The output size in megapixels (the emulator's scale, 4 times for ``resolution=4MP``)."""
    scale = float(ctx.config.output_megapixels)
    return scale * (4.0 if body.get("resolution") == "4MP" else 1.0)


def load(ctx: OperationContext, body: Body, value: Any, field: str) -> Image.Image:
    """An input image, moderated when the body (or the endpoint's default) asks for it; v1
    endpoints have one ``content_moderation`` switch."""
    image = ctx.load_image(value, field)
    if body.get("visual_input_content_moderation") or body.get("content_moderation"):
        ctx.check_image_moderation(image, field)
    return image


def image_input(ctx: OperationContext, body: Body) -> Image.Image:
    """The body's main input image, whatever field the endpoint names it."""
    for field in ("image", "file", "image_url", "person_image", "scene"):
        if body.get(field):
            return load(ctx, body, body[field], field)
    for field in ("images", "attachments"):
        if body.get(field):
            return load(ctx, body, body[field][0], f"{field}[0]")
    raise ApiError(400, "Invalid request", "image: an input image is required")


def moderate(ctx: OperationContext, body: Body, *fields: str) -> None:
    """Check the text ``fields`` for the moderation trigger unless the body turns it off."""
    if body.get("prompt_content_moderation", True):
        for field in fields:
            if isinstance(body.get(field), str):
                ctx.check_moderation(body[field], field)


def check_tailored(ctx: OperationContext, body: Body, missing: int = 403) -> None:
    """A ``tailored_model_id`` must name a trained model (ApiError ``missing`` or 409)."""
    if "tailored_model_id" in body:
        trained_model(ctx.extensions, body["tailored_model_id"], missing)

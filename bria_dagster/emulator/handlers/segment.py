"""``/v2/image/segment/all_masks``: every region of the input image as its own binary PNG mask.

As Bria documents it (docs.bria.ai, "Generate All Masks"): one PNG per region at the input's
resolution, 255 on the region and 0 elsewhere; sorted by ``confidence``, best first; ``id`` is
the rank from 1; ``area`` is the mask's count of white pixels; masks may overlap (here the
subject's mask contains parts of the colour regions). The regions are real: the subject
against the border colour, and the areas of each dominant colour.
"""

from __future__ import annotations

from PIL import Image

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import Body, Work

MAX_COLOURS = 8
"""At most this many colour regions (after quantising the image)."""
MIN_SHARE = 0.005
"""Regions smaller than this share of the image are not reported."""
SUBJECT_CONFIDENCE = 0.99


def _binary(mask: Image.Image) -> Image.Image:
    return mask.point(lambda v: 255 if v >= 128 else 0)


def _colour_regions(image: Image.Image) -> list[Image.Image]:
    indexed = image.convert("RGB").quantize(colors=MAX_COLOURS)
    pixels = indexed.tobytes()  # one palette index per pixel
    regions = []
    for index in sorted(set(pixels)):
        table = bytes(255 if value == index else 0 for value in range(256))
        regions.append(Image.frombytes("L", indexed.size, pixels.translate(table)))
    return regions


def regions(image: Image.Image) -> list[tuple[Image.Image, int, float]]:
    """``(mask, area, confidence)`` of every region found, best first."""
    total = image.width * image.height
    found: list[tuple[Image.Image, int, float]] = []
    subject = _binary(draw.subject_mask(image))
    area = subject.histogram()[255]
    if MIN_SHARE * total <= area < total:
        found.append((subject, area, SUBJECT_CONFIDENCE))
    for mask in _colour_regions(image):
        area = mask.histogram()[255]
        if area >= MIN_SHARE * total:
            found.append((mask, area, round(0.5 + 0.45 * area / total, 3)))
    return sorted(found, key=lambda region: -region[2])


def all_masks(ctx: OperationContext, body: Body) -> Body:
    """The job's result: ``{"masks": [{"id", "url", "area", "confidence"}, ...]}``."""
    image = ctx.load_image(body["image"], "image")
    if body.get("visual_input_content_moderation"):
        ctx.check_image_moderation(image, "image")
    masks = [
        {"id": rank, "url": ctx.store_image(mask, "PNG"), "area": area, "confidence": confidence}
        for rank, (mask, area, confidence) in enumerate(regions(image), start=1)
    ]
    return {"masks": masks}


WORK: dict[str, Work] = {"/v2/image/segment/all_masks": all_masks}
"""The work of the segmentation endpoints."""

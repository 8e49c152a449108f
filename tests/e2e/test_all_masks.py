"""``client.edit.all_masks`` against the emulator: every region as a real binary PNG mask, as
Bria's "Generate All Masks" page describes them."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bria_dagster.client import BriaClient


def _photo() -> bytes:
    """A grey backdrop with a red square and a blue disc: three regions and one subject."""
    image = Image.new("RGB", (96, 64), (200, 200, 200))
    pen = ImageDraw.Draw(image)
    pen.rectangle((8, 8, 39, 39), fill=(220, 30, 30))
    pen.ellipse((52, 16, 83, 47), fill=(30, 60, 220))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_region_comes_back_as_its_own_binary_mask(bria: BriaClient) -> None:
    result = bria.edit.all_masks(image=_photo())
    masks = result.raw["masks"]
    assert [mask["id"] for mask in masks] == list(range(1, len(masks) + 1))
    confidences = [mask["confidence"] for mask in masks]
    assert confidences == sorted(confidences, reverse=True)
    assert result.urls == [mask["url"] for mask in masks] and result.url == masks[0]["url"]
    images = []
    for mask in masks:
        buffer = io.BytesIO()
        bria.download(mask["url"], buffer)
        image = Image.open(buffer)
        assert image.format == "PNG" and image.size == (96, 64)
        levels = image.convert("L").histogram()
        assert sum(levels[1:255]) == 0  # binary: 0 or 255 only
        assert levels[255] == mask["area"]
        images.append(image.convert("L"))
    # The red square is a region of its own: 32 x 32 pixels, white exactly there.
    square = [m for m in images if m.getpixel((20, 20)) == 255 and m.getpixel((70, 30)) == 0]
    assert any(m.histogram()[255] == 32 * 32 for m in square)
    # The subject (both shapes) overlaps the square's mask: masks may contain one another.
    subject = images[0]
    assert subject.getpixel((20, 20)) == subject.getpixel((70, 30)) == 255
    assert subject.getpixel((2, 2)) == 0

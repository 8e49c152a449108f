"""Deterministic pictures and real image operations for the emulator (Pillow only).

Generated pictures depend visibly on the prompt and the seed: a background, one central object
whose colour comes from the colour words of the prompt (else from its hash), shapes placed by the
seed. The object is kept well apart from the background, so :func:`subject_mask` (background
estimated from the border) cuts it cleanly.
"""

from __future__ import annotations

import hashlib
import random

from PIL import (
    Image,
    ImageChops,
    ImageDraw,
    ImageFilter,
    ImageOps,
    ImageStat,
)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 40),
    "green": (40, 150, 60),
    "blue": (40, 80, 200),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "yellow": (235, 200, 30),
    "orange": (240, 130, 20),
    "purple": (120, 50, 160),
    "pink": (235, 120, 170),
    "brown": (120, 75, 40),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
}

_RATIO_NAMES = "1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 16:10 10:16 2:1 1:2 21:9 9:21 3:1 1:3"
RATIOS: dict[str, tuple[int, int]] = {
    name: (int(name.split(":")[0]), int(name.split(":")[1]))
    for name in [*_RATIO_NAMES.split(" "), "4:1", "1:4", "5:1", "1:5"]
}


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def size_for(aspect_ratio: str | None, megapixels: float) -> tuple[int, int]:
    """Width and height for an aspect ratio (``"16:9"``) and an area in megapixels."""
    w, h = RATIOS.get(aspect_ratio or "1:1", (1, 1))
    area = max(megapixels, 0.001) * 1024 * 1024
    width = (area * w / h) ** 0.5
    return max(16, round(width / 8) * 8), max(16, round(width * h / w / 8) * 8)


def colour_of(text: str | None, default_seed: object = 0) -> tuple[int, int, int]:
    """The first colour word in ``text`` (or a hex ``#RRGGBB``), else a colour from its hash."""
    if text:
        stripped = text.strip()
        if len(stripped) == 7 and stripped.startswith("#"):
            try:
                return tuple(int(stripped[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
            except ValueError:
                pass
        for word in stripped.lower().replace(",", " ").split():
            if word in COLOURS:
                return COLOURS[word]
    rng = _rng("colour", text, default_seed)
    return (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220))


def _background_for(subject: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    # Light backgrounds for dark subjects and the reverse, so the subject stands out.
    light = sum(subject) < 3 * 128
    base = 225 if light else 45
    return tuple(base + rng.randrange(-15, 15) for _ in range(3))  # type: ignore[return-value]


def generate(prompt: str | None, seed: int, size: tuple[int, int]) -> Image.Image:
    """A picture of ``prompt`` for ``seed``: the same inputs always give the same pixels."""
    rng = _rng("generate", prompt, seed)
    subject = colour_of(prompt, seed)
    background = _background_for(subject, rng)
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(3):  # soft background shapes, close to the background colour
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, width // 10), max(3, width // 4))
        shade = tuple(min(255, max(0, c + rng.randrange(-12, 12))) for c in background)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    cx = width // 2 + rng.randrange(-width // 12, width // 12 + 1)
    cy = height // 2 + rng.randrange(-height // 12, height // 12 + 1)
    rx = int(width * rng.uniform(0.18, 0.3))
    ry = int(height * rng.uniform(0.18, 0.3))
    shape = rng.choice(("ellipse", "rectangle", "polygon"))
    if shape == "ellipse":
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=subject)
    elif shape == "rectangle":
        draw.rounded_rectangle((cx - rx, cy - ry, cx + rx, cy + ry), radius=rx // 4, fill=subject)
    else:
        points = [(cx + rx * dx, cy + ry * dy) for dx, dy in ((0, -1), (1, 0.6), (-1, 0.6))]
        draw.polygon(points, fill=subject)
    accent = tuple(min(255, c + 60) for c in subject)
    draw.ellipse((cx - rx // 4, cy - ry // 4, cx + rx // 4, cy + ry // 4), fill=accent)
    if prompt and height >= 48:
        # The prompt, small and faint: readable, yet too close to the background to be cut out
        # as part of the subject by :func:`subject_mask`.
        faint = tuple(c - 28 if c > 128 else c + 28 for c in background)
        draw.text((4, height - 14), prompt[: max(4, width // 7)], fill=faint)
    return image


def border_colour(image: Image.Image) -> tuple[int, int, int]:
    """The median colour of the image's outer frame: the background estimate."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    strip = Image.new("RGB", (2 * (w + h), 2))
    x = 0
    for box in ((0, 0, w, 2), (0, h - 2, w, h), (0, 0, 2, h), (w - 2, 0, w, h)):
        part = rgb.crop(box)
        part = part if part.height == 2 else part.rotate(90, expand=True)
        strip.paste(part, (x, 0))
        x += part.width
    return tuple(int(v) for v in ImageStat.Stat(strip).median)  # type: ignore[return-value]


def subject_mask(image: Image.Image) -> Image.Image:
    """An L mask: 255 on the subject, 0 on the background, a soft one-pixel edge."""
    rgb = image.convert("RGB")
    flat = Image.new("RGB", rgb.size, border_colour(rgb))
    distance = ImageOps.grayscale(ImageChops.difference(rgb, flat))
    mask = distance.point(lambda v: 255 if v > 40 else 0)
    if image.mode == "RGBA":
        mask = ImageChops.multiply(mask, image.getchannel("A"))
    return mask.filter(ImageFilter.MedianFilter(3)).filter(ImageFilter.GaussianBlur(0.7))


def remove_background(image: Image.Image) -> Image.Image:
    """RGBA with the background cut away (real alpha)."""
    out = image.convert("RGBA")
    out.putalpha(subject_mask(image))
    return out


def crop_foreground(image: Image.Image, padding: int = 0) -> Image.Image:
    """The subject cut out and cropped to its bounding box plus ``padding`` pixels."""
    cut = remove_background(image)
    box = cut.getchannel("A").getbbox() or (0, 0, *cut.size)
    left, top, right, bottom = box
    w, h = cut.size
    return cut.crop(
        (
            max(0, left - padding),
            max(0, top - padding),
            min(w, right + padding),
            min(h, bottom + padding),
        )
    )


def erase_region(image: Image.Image, mask: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    """``image`` with the white part of ``mask`` replaced by a blurred ``fill``."""
    base = image.convert("RGB")
    mask = mask.convert("L").resize(base.size)
    patch = Image.new("RGB", base.size, fill)
    out = Image.composite(patch, base, mask)
    return out.filter(ImageFilter.SMOOTH)


def erase_foreground(image: Image.Image) -> Image.Image:
    """The subject removed and the background continued over it."""
    return erase_region(
        image, subject_mask(image).filter(ImageFilter.MaxFilter(5)), border_colour(image)
    )


def blur_background(image: Image.Image, scale: int = 5) -> Image.Image:
    """The background blurred (``scale`` 1-5), the subject kept sharp."""
    rgb = image.convert("RGB")
    blurred = rgb.filter(ImageFilter.GaussianBlur(2 * scale))
    return Image.composite(rgb, blurred, subject_mask(image))


def scene(size: tuple[int, int], description: str | None, seed: int) -> Image.Image:
    """A background scene: a vertical gradient in the description's colour, with a horizon."""
    rng = _rng("scene", description, seed)
    top = colour_of(description, seed)
    bottom = tuple(max(0, c - 60 - rng.randrange(20)) for c in top)
    gradient = Image.linear_gradient("L").resize(size)
    out = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    ImageDraw.Draw(out).line((0, size[1] * 2 // 3, size[0], size[1] * 2 // 3), fill=bottom, width=2)
    return out


def place(subject: Image.Image, background: Image.Image, *, scale: float = 0.6) -> Image.Image:
    """The cut-out subject pasted centred on ``background``, at most ``scale`` of its size."""
    cut = subject if subject.mode == "RGBA" else crop_foreground(subject)
    bbox = cut.getchannel("A").getbbox()
    if bbox:
        cut = cut.crop(bbox)
    out = background.convert("RGBA")
    limit = (int(out.width * scale), int(out.height * scale))
    cut = ImageOps.contain(cut, limit) if cut.width and cut.height else cut
    out.alpha_composite(cut, ((out.width - cut.width) // 2, (out.height - cut.height) // 2))
    return out


def replace_background(image: Image.Image, description: str | None, seed: int) -> Image.Image:
    """The subject kept in place on a new background made from ``description``."""
    rgb = image.convert("RGB")
    return Image.composite(rgb, scene(rgb.size, description, seed), subject_mask(image))


def expand(
    image: Image.Image, size: tuple[int, int], location: tuple[int, int] | None = None
) -> Image.Image:
    """The image on a larger canvas, the new area filled from its own edge colour."""
    base = image.convert("RGB")
    canvas = Image.new("RGB", size, border_colour(base))
    x, y = location if location else ((size[0] - base.width) // 2, (size[1] - base.height) // 2)
    canvas.paste(base, (x, y))
    return canvas


def expanded_size(image: Image.Image, aspect_ratio: str | float) -> tuple[int, int]:
    """The smallest canvas of ``aspect_ratio`` that holds the image."""
    if isinstance(aspect_ratio, str):
        w, h = RATIOS.get(aspect_ratio, (1, 1))
        ratio = w / h
    else:
        ratio = float(aspect_ratio)
    width, height = image.size
    if width / height < ratio:
        return round(height * ratio), height
    return width, round(width / ratio)


def upscale(image: Image.Image, factor: int) -> Image.Image:
    """A real x``factor`` resampling (LANCZOS), keeping transparency."""
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.LANCZOS)


def enhance(image: Image.Image) -> Image.Image:
    """About twice the resolution, sharpened and with a little more contrast."""
    big = upscale(image.convert("RGB"), 2).filter(ImageFilter.UnsharpMask(2, 80, 2))
    return ImageOps.autocontrast(big, cutoff=1)


def tint(image: Image.Image, colour: tuple[int, int, int], amount: float = 0.35) -> Image.Image:
    """A visible colour shift towards ``colour``."""
    rgb = image.convert("RGB")
    return Image.blend(rgb, Image.new("RGB", rgb.size, colour), amount)


def annotate(
    image: Image.Image, text: str, colour: tuple[int, int, int] = (20, 20, 20)
) -> Image.Image:
    """``text`` drawn on a band at the top of a copy of the image."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, out.width, 14), fill=(250, 250, 250))
    draw.text((3, 2), text[:80], fill=colour)
    return out


def add_object(image: Image.Image, description: str, seed: int) -> Image.Image:
    """A new object (a disc in the description's colour) drawn into the picture."""
    out = image.convert("RGB").copy()
    rng = _rng("object", description, seed)
    r = max(4, min(out.size) // 8)
    x, y = rng.randrange(r, max(r + 1, out.width - r)), rng.randrange(r, max(r + 1, out.height - r))
    ImageDraw.Draw(out).ellipse((x - r, y - r, x + r, y + r), fill=colour_of(description, seed))
    return out


def shadow(
    image: Image.Image,
    colour: tuple[int, int, int],
    offset: tuple[int, int],
    blur: int,
    background: tuple[int, int, int] | None,
) -> Image.Image:
    """The cut-out with a real drop shadow behind it (transparent or coloured background)."""
    cut = image.convert("RGBA")
    alpha = cut.getchannel("A")
    canvas = Image.new("RGBA", cut.size, (*background, 255) if background else (0, 0, 0, 0))
    shade = Image.new("RGBA", cut.size, (*colour, 0))
    shade.putalpha(alpha.point(lambda v: v * 6 // 10))
    moved = Image.new("RGBA", cut.size, (0, 0, 0, 0))
    moved.paste(shade, offset)
    canvas.alpha_composite(moved.filter(ImageFilter.GaussianBlur(max(0, blur) / 3)))
    canvas.alpha_composite(cut)
    return canvas


def sketch(image: Image.Image) -> Image.Image:
    """An outline drawing of the picture (edges on white)."""
    edges = ImageOps.invert(image.convert("L").filter(ImageFilter.FIND_EDGES))
    return edges.convert("RGB")


VIDEO_SIDE = 128
"""The longest side of the emulator's stand-in videos."""


def spin(frame: Image.Image, frames: int = 6, side: int = VIDEO_SIDE) -> list[Image.Image]:
    """Frames of ``frame`` turning once around: a clip made from a still picture."""
    base = ImageOps.contain(frame.convert("RGB"), (side, side))
    return [base.rotate(i * 360 / frames, fillcolor=border_colour(base)) for i in range(frames)]

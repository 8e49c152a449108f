"""The emulator's image work, function by function: deterministic, and really doing the job."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from bria_dagster.emulator.handlers import draw

from .helpers import BACKGROUND, SUBJECT, pixel, product_photo

SIZE = (96, 72)


def _distance(a: Any, b: Any) -> int:
    return max(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True))


def test_generate_is_a_function_of_prompt_and_seed() -> None:
    first = draw.generate("a red shoe", 1, SIZE)
    assert first.size == SIZE
    assert first.tobytes() == draw.generate("a red shoe", 1, SIZE).tobytes()
    assert first.tobytes() != draw.generate("a red shoe", 2, SIZE).tobytes()
    assert first.tobytes() != draw.generate("a green shoe", 1, SIZE).tobytes()


@pytest.mark.parametrize("word", ["red", "green", "blue", "yellow", "black", "white"])
def test_generate_colours_the_object_after_the_prompt(word: str) -> None:
    image = draw.generate(f"a {word} vase on a table", 5, (128, 128))
    mask = draw.subject_mask(image)
    inside = ImageStat.Stat(image, mask).median
    assert _distance(tuple(inside), draw.COLOURS[word]) < 70, (word, inside)


def test_generated_object_is_separable_from_its_background() -> None:
    image = draw.generate("a purple bottle", 3, (160, 120))
    alpha = draw.remove_background(image).getchannel("A")
    covered = ImageStat.Stat(alpha).mean[0] / 255
    assert 0.05 < covered < 0.6  # a distinct object, neither nothing nor everything
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((159, 119)) == 0


def test_size_for_follows_aspect_ratio_and_area() -> None:
    width, height = draw.size_for("16:9", 1.0)
    assert abs(width / height - 16 / 9) < 0.02
    assert abs(width * height - 1024 * 1024) / (1024 * 1024) < 0.02
    big = draw.size_for("1:1", 4.0)
    assert big == (2048, 2048)
    assert draw.size_for("9:16", 0.05)[0] < draw.size_for("9:16", 0.05)[1]


def test_colour_of_reads_hex_and_colour_words_else_a_stable_hash() -> None:
    assert draw.colour_of("#10A0FF") == (16, 160, 255)
    assert draw.colour_of("a BLUE car") == draw.COLOURS["blue"]
    assert draw.colour_of("a car", 3) == draw.colour_of("a car", 3)
    assert draw.colour_of("a car", 3) != draw.colour_of("a boat", 3)


def test_remove_background_cuts_a_real_soft_alpha() -> None:
    cut = draw.remove_background(product_photo(SIZE))
    assert cut.mode == "RGBA" and cut.size == SIZE
    alpha = cut.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0
    assert alpha.getpixel((SIZE[0] // 2, SIZE[1] // 2)) == 255
    values = {alpha.getpixel((x, SIZE[1] // 2)) for x in range(SIZE[0])}
    assert values - {0, 255}, "the edge is soft: some partial alpha"
    assert pixel(cut, (SIZE[0] // 2, SIZE[1] // 2))[:3] == SUBJECT


def test_crop_foreground_crops_to_the_subject_plus_padding() -> None:
    photo = product_photo(SIZE)
    tight = draw.crop_foreground(photo)
    assert tight.width < SIZE[0] // 2 + 6 and tight.height < SIZE[1] // 2 + 6
    padded = draw.crop_foreground(photo, padding=5)
    assert padded.size == (tight.width + 10, tight.height + 10)


def test_erase_foreground_continues_the_background_over_the_subject() -> None:
    erased = draw.erase_foreground(product_photo(SIZE))
    centre = erased.getpixel((SIZE[0] // 2, SIZE[1] // 2))
    assert _distance(centre, BACKGROUND) < 12
    assert erased.size == SIZE


def test_blur_background_keeps_the_subject_sharp() -> None:
    photo = product_photo((120, 90))
    stripes = Image.new("RGB", (120, 90), BACKGROUND)
    for x in range(0, 120, 4):
        stripes.paste((90, 90, 90), (x, 0, x + 2, 90))
    stripes.paste(photo.crop((30, 22, 90, 68)), (30, 22))
    blurred = draw.blur_background(stripes, 5)
    assert blurred.getpixel((60, 45)) == stripes.getpixel((60, 45))
    corner = [blurred.getpixel((x, 2)) for x in range(0, 12)]
    assert len(set(corner)) > 1 and corner != [stripes.getpixel((x, 2)) for x in range(12)]


def test_replace_background_puts_the_subject_on_a_new_colour() -> None:
    out = draw.replace_background(product_photo(SIZE), "#0050FF", 1)
    assert _distance(out.getpixel((0, 0)), (0, 80, 255)) < 70
    assert out.getpixel((SIZE[0] // 2, SIZE[1] // 2)) == SUBJECT


def test_expand_makes_a_larger_canvas_with_the_image_inside() -> None:
    photo = product_photo(SIZE)
    size = draw.expanded_size(photo, "16:9")
    assert abs(size[0] / size[1] - 16 / 9) < 0.02 and size[1] == SIZE[1]
    out = draw.expand(photo, size)
    assert out.size == size
    left = (size[0] - SIZE[0]) // 2
    assert out.crop((left, 0, left + SIZE[0], SIZE[1])).tobytes() == photo.tobytes()
    placed = draw.expand(photo, (200, 200), (10, 20))
    assert placed.getpixel((10 + SIZE[0] // 2, 20 + SIZE[1] // 2)) == SUBJECT


@pytest.mark.parametrize("factor", [2, 4])
def test_upscale_is_a_real_resampling_keeping_alpha(factor: int) -> None:
    cut = draw.remove_background(product_photo(SIZE))
    big = draw.upscale(cut, factor)
    assert big.size == (SIZE[0] * factor, SIZE[1] * factor) and big.mode == "RGBA"
    assert big.getchannel("A").getpixel((0, 0)) == 0
    photo = product_photo(SIZE)
    back = draw.upscale(photo, factor).resize(SIZE, Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(back, photo).convert("L")).mean[0]
    assert diff < 4  # the same picture, more pixels


def test_enhance_doubles_and_sharpens() -> None:
    photo = product_photo(SIZE)
    out = draw.enhance(photo)
    assert out.size == (SIZE[0] * 2, SIZE[1] * 2)
    plain = draw.upscale(photo, 2)
    assert out.tobytes() != plain.tobytes()


def test_erase_region_changes_only_inside_the_mask() -> None:
    photo = draw.generate("a blue cube", 4, SIZE)
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, (10, 10, 40, 40))
    out = draw.erase_region(photo, mask, (0, 255, 0))
    assert _distance(out.getpixel((25, 25)), (0, 255, 0)) < 20
    assert _distance(out.getpixel((80, 60)), photo.getpixel((80, 60))) < 20


def test_shadow_draws_a_real_offset_shadow() -> None:
    cut = draw.remove_background(product_photo(SIZE))
    out = draw.shadow(cut, (0, 0, 0), (0, 12), 6, (255, 255, 255))
    assert out.size == SIZE
    # Just below the subject's bottom edge: darker than the white background.
    below = pixel(out, (SIZE[0] // 2, 3 * SIZE[1] // 4 + 6))
    assert max(below[:3]) < 235, below
    assert pixel(out, (0, 0))[:3] == (255, 255, 255)
    transparent = draw.shadow(cut, (0, 0, 0), (0, 12), 6, None)
    assert pixel(transparent, (0, 0))[3] == 0
    assert 0 < pixel(transparent, (SIZE[0] // 2, 3 * SIZE[1] // 4 + 6))[3] < 255


def test_place_centres_the_cut_subject_on_a_scene() -> None:
    scene = draw.scene((200, 120), "a green meadow", 3)
    out = draw.place(product_photo(SIZE), scene)
    assert out.size == (200, 120)
    assert _distance(out.getpixel((100, 60)), SUBJECT) < 10
    assert _distance(out.getpixel((2, 2)), scene.getpixel((2, 2))) < 3


def test_tint_annotate_add_object_and_sketch_visibly_change_the_picture() -> None:
    photo = product_photo(SIZE)
    for changed in (
        draw.tint(photo, (0, 0, 255)),
        draw.annotate(photo, "SALE"),
        draw.add_object(photo, "a blue ball", 2),
        draw.sketch(photo),
    ):
        assert changed.size == SIZE
        diff = ImageStat.Stat(ImageChops.difference(changed.convert("RGB"), photo)).mean
        assert sum(diff) > 3

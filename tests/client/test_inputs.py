"""to_api_image: every accepted input form, and every refusal naming the field."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from bria_dagster.client import BriaInputError, to_api_image
from bria_dagster.client.inputs import MAX_IMAGE_BYTES


def encoded(fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (8, 8), 128).save(buffer, format=fmt)
    return buffer.getvalue()


def decoded_format(value: str) -> str | None:
    with Image.open(io.BytesIO(base64.b64decode(value))) as image:
        return image.format


def test_urls_pass_through_untouched() -> None:
    url = "https://cdn.example.com/a.png?X-Amz-Signature=abc"
    assert to_api_image(url) == url
    assert to_api_image("  http://host/x.jpg ") == "http://host/x.jpg"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_bytes_become_bare_base64(fmt: str) -> None:
    data = encoded(fmt)
    value = to_api_image(data)
    assert base64.b64decode(value) == data
    assert not value.startswith("data:")


def test_data_uri_header_is_stripped() -> None:
    data = encoded("PNG")
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    assert to_api_image(uri) == base64.b64encode(data).decode()


def test_raw_base64_is_checked_and_normalised() -> None:
    data = encoded("JPEG")
    text = base64.b64encode(data).decode()
    wrapped = "\n".join(text[i : i + 60] for i in range(0, len(text), 60))
    assert to_api_image(wrapped) == text
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert base64.b64decode(to_api_image(urlsafe)) == data


def test_local_paths_are_read(tmp_path: Path) -> None:
    path = tmp_path / "in.webp"
    path.write_bytes(encoded("WEBP"))
    assert decoded_format(to_api_image(path)) == "WEBP"
    assert decoded_format(to_api_image(str(path))) == "WEBP"


def test_pil_images_are_sent_as_png() -> None:
    assert decoded_format(to_api_image(Image.new("RGBA", (4, 4)))) == "PNG"
    cmyk = Image.new("CMYK", (4, 4))
    assert decoded_format(to_api_image(cmyk)) == "PNG"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (encoded("GIF", "P"), "GIF"),
        (encoded("BMP"), "BMP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "decodable"),
        (b"not an image at all", "decodable"),
        (encoded("PNG")[:50], "decodable"),
        ("data:image/png,rawtext", "base64"),
        ("definitely not/base64!", "neither"),
        ("/no/such/file.png", "neither"),
        ("ftp://host/x.png", "neither"),
        ("https://", "no host"),
        (Path("/no/such/file.png"), "does not exist"),
        (12345, "int"),
        (None, "NoneType"),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(value: object, reason: str) -> None:
    with pytest.raises(BriaInputError) as caught:
        to_api_image(value, "images[0]")
    assert caught.value.field == "images[0]"
    assert reason in str(caught.value)


def test_inputs_over_12_mb_are_refused_before_decoding() -> None:
    with pytest.raises(BriaInputError, match="12 MB") as caught:
        to_api_image(b"\0" * (MAX_IMAGE_BYTES + 1), "mask")
    assert caught.value.field == "mask"
    big = base64.b64encode(b"\0" * (MAX_IMAGE_BYTES + 1)).decode()
    with pytest.raises(BriaInputError, match="12 MB"):
        to_api_image(big)

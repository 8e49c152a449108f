"""Input reading by the OperationContext: URLs, own files, base64, data URIs, caps, formats."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, b64, png_bytes, receiver


def _run(client: httpx.Client, image: str, **extra: object) -> httpx.Response:
    return client.post(EDIT_PATH, json={"image": image, "sync": True, **extra})


@pytest.fixture
def client(start_emulator: StartEmulator) -> Iterator[httpx.Client]:
    emulator = start_emulator(max_input_bytes=64 * 1024)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=10) as c:
        yield c


def test_public_url_input_is_fetched(client: httpx.Client) -> None:
    with receiver() as site:
        site.pages["/cat.png"] = (200, png_bytes((20, 10)), "image/png")
        site.pages["/big.png"] = (200, b"\0" * (65 * 1024), "image/png")
        fetched = _run(client, f"{site.url}/cat.png")
        missing = _run(client, f"{site.url}/nope.png")
        too_big = _run(client, f"{site.url}/big.png")
    assert fetched.status_code == 200
    assert httpx.get(fetched.json()["result"]["image_url"]).content.startswith(b"\x89PNG")
    assert missing.status_code == 460
    assert "HTTP 404" in missing.json()["error"]["details"]
    assert too_big.status_code == 413


def test_own_file_urls_are_read_directly_and_must_be_valid(client: httpx.Client) -> None:
    first = _run(client, b64(png_bytes())).json()["result"]["image_url"]
    requests_before = client.get("/_emulator/stats").json()["file_downloads"]
    chained = _run(client, first)
    assert chained.status_code == 200
    assert client.get("/_emulator/stats").json()["file_downloads"] == requests_before
    forged = httpx.URL(first).copy_set_param("sig", "0" * 32)
    refused = _run(client, str(forged))
    assert refused.status_code == 460
    assert "403" in refused.json()["error"]["details"]


def test_base64_and_data_uris(client: httpx.Client) -> None:
    raw = b64(png_bytes())
    assert _run(client, raw).status_code == 200
    assert _run(client, f"data:image/png;base64,{raw}").status_code == 200
    not_base64 = _run(client, "this is not an image!")
    assert not_base64.status_code == 415
    assert not_base64.json()["error"]["details"].startswith("image:")


def test_size_format_and_decode_errors(client: httpx.Client) -> None:
    huge = _run(client, b64(b"\0" * (65 * 1024)))
    assert huge.status_code == 413
    assert huge.json()["error"]["details"].startswith("image:")
    gif = _run(client, b64(png_bytes(fmt="GIF")))
    assert gif.status_code == 415
    assert "GIF" in gif.json()["error"]["details"]
    noise = _run(client, b64(b"hello, not an image at all"))
    assert noise.status_code == 415
    truncated = _run(client, b64(png_bytes((64, 64))[:-40]))
    assert truncated.status_code in (415, 422)
    assert _run(client, b64(png_bytes(fmt="WEBP"))).status_code == 200
    assert _run(client, b64(png_bytes(fmt="JPEG"))).status_code == 200


def test_visual_moderation_trigger(client: httpx.Client) -> None:
    flagged = b64(png_bytes(text="please [moderate] me"))
    refused = _run(client, flagged, visual_input_content_moderation=True)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"].startswith("image:")
    assert _run(client, flagged).status_code == 200


def test_unreachable_host_is_460_quickly(client: httpx.Client) -> None:
    started = time.monotonic()
    response = _run(client, "http://127.0.0.1:9/x.png")
    assert response.status_code == 460
    assert time.monotonic() - started < 5

"""Hostile requests get Bria's refusals, not 500s, and refused inputs make no (billed) job.

Over HTTP to the emulator with the project's operations; inputs come as base64, as the
emulator's own file URLs, and from a separate HTTP server that answers HEAD.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from bria_dagster.emulator import EmulatorServer

from .helpers import b64, product_photo

CUTOUT = "/v2/image/edit/remove_background"
MB = 1024 * 1024


@contextmanager
def _site(pages: dict[str, tuple[str, int]]) -> Iterator[str]:
    """An HTTP server answering HEAD (and GET) for ``path -> (content type, length)``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _head(self) -> int:
            content_type, length = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            return length

        def do_HEAD(self) -> None:
            self._head()

        def do_GET(self) -> None:
            self.wfile.write(b"x" * self._head())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _hosted(http: httpx.Client, data: bytes | None, **params: object) -> str:
    answer = http.post("/_emulator/files", params=params, content=data or b"")
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def test_oversized_and_non_image_inputs_are_refused_on_submit(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    big_own = _hosted(http, None, size=13 * MB, ext="png", content_type="image/png")
    html_own = _hosted(http, b"<html>hello</html>", ext="html", content_type="text/html")
    with _site({"/big.png": ("image/png", 13 * MB), "/page": ("text/html", 20)}) as site:
        cases = {
            "base64 over 12 MB": (base64.b64encode(b"\0" * (12 * MB + 10)).decode(), 413),
            "base64 text": (base64.b64encode(b"just some text, no image").decode(), 415),
            "own file over 12 MB": (big_own, 413),
            "own file, html": (html_own, 415),
            "URL over 12 MB": (f"{site}/big.png", 413),
            "URL to a web page": (f"{site}/page", 415),
        }
        for name, (image, code) in cases.items():
            answer = http.post(CUTOUT, json={"image": image})
            assert answer.status_code == code, (name, answer.text)
            assert answer.json()["error"]["details"].startswith("image:"), name
        listed = http.post(
            "/v2/image/edit/product/integrate",
            json={"images": [b64(product_photo()), f"{site}/page"], "scene": b64(product_photo())},
        )
    assert listed.status_code in (400, 415), listed.text
    stats = emulator.stats()
    assert stats.submits == {}  # no job, nothing billed
    assert stats.jobs == {}
    # A good input still makes a job.
    assert http.post(CUTOUT, json={"image": b64(product_photo())}).status_code == 202


def test_deeply_nested_json_is_a_400(http: httpx.Client) -> None:
    for raw in ("[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        answer = http.post(CUTOUT, content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert "nested too deeply" in answer.json()["error"]["details"]
        config = http.post("/_emulator/config", content=raw)
        assert config.status_code == 400, config.text


def test_absurd_file_sizes_are_a_400(http: httpx.Client) -> None:
    for size in ("1e20", "100000000000000000000", str(1 << 41)):
        answer = http.post("/_emulator/files", params={"size": size})
        assert answer.status_code == 400, (size, answer.text)
        assert answer.json()["error"]["details"].startswith("size:")


def test_an_oversized_body_is_refused_without_reading_it(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    cap = emulator.state.config.max_body_bytes

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap is found while streaming
        block = b" " * MB
        for _ in range(cap // MB + 8):
            yield block

    declared = http.post(
        CUTOUT, content=b"{" + b" " * (cap + 1), headers={"Content-Type": "application/json"}
    )
    streamed = http.post(CUTOUT, content=chunks(), headers={"Content-Type": "application/json"})
    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text[:200]
        assert "request body" in answer.json()["error"]["details"]
    assert emulator.stats().submits == {}

"""Small test operations and a real HTTP receiver for the emulator core's tests."""

from __future__ import annotations

import base64
import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bria_dagster.emulator import ApiError, JobOperation, OperationContext
from bria_dagster.emulator.contract import WARNING_KEY

TOKEN = "test-token-123"
AUTH = {"api_token": TOKEN}
EDIT_PATH = "/v2/image/edit/remove_background"
GENERATE_PATH = "/v2/image/generate"
ENHANCE_PATH = "/v2/image/edit/enhance"
V1_CUTOUT_PATH = "/v1/product/cutout"


def png_bytes(
    size: tuple[int, int] = (16, 16), color: str = "red", fmt: str = "PNG", text: str | None = None
) -> bytes:
    """A small image; ``text`` goes into a PNG text chunk (for the visual moderation trigger)."""
    buffer = io.BytesIO()
    info = None
    if text is not None:
        info = PngInfo()
        info.add_text("comment", text)
    Image.new("RGB", size, color).save(buffer, format=fmt, pnginfo=info)
    return buffer.getvalue()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until true (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def final_status(client: httpx.Client, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll the status of a job until it is no longer IN_PROGRESS."""
    box: dict[str, Any] = {}

    def done() -> bool:
        box["body"] = client.get(f"/v2/status/{request_id}").json()
        return bool(box["body"]["status"] != "IN_PROGRESS")

    wait_for(done, timeout)
    body: dict[str, Any] = box["body"]
    return body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _require(body: dict[str, Any], name: str) -> None:
    if not body.get(name):
        raise ApiError(400, "Invalid request", f"{name}: field required")


def _validate_edit(body: dict[str, Any]) -> dict[str, Any]:
    _require(body, "image")
    return {"preserve_alpha": True, **body}


def _execute_edit(ctx: OperationContext, body: dict[str, Any]) -> dict[str, Any]:
    image = ctx.load_image(body["image"], "image")
    if body.get("visual_input_content_moderation"):
        ctx.check_image_moderation(image, "image")
    return {"image_url": ctx.store_image(image.convert("RGBA")), "seed": ctx.seed}


def _validate_generate(body: dict[str, Any]) -> dict[str, Any]:
    _require(body, "prompt")
    validated = dict(body)
    if body.get("ip_signal") and "mickey" in body["prompt"].lower():
        validated[WARNING_KEY] = "The prompt may reference protected IP"
    return validated


def _execute_generate(ctx: OperationContext, body: dict[str, Any]) -> dict[str, Any]:
    ctx.check_moderation(body["prompt"], "prompt")
    shade = ctx.seed % 256
    url = ctx.store_image(Image.new("RGB", (8, 8), (shade, 0, 0)))
    result = {"image_url": url, "seed": ctx.seed, "prompt": body["prompt"]}
    if "aspect_ratio" in body:
        result["warning"] = "aspect_ratio is ignored for a single image"
    return result


EDIT = JobOperation(EDIT_PATH, "edit", "allowed", _validate_edit, _execute_edit)
GENERATE = JobOperation(
    GENERATE_PATH, "generation", "allowed", _validate_generate, _execute_generate
)
ENHANCE = JobOperation(ENHANCE_PATH, "enhance", "refused", _validate_edit, _execute_edit)
V1_CUTOUT = JobOperation(
    V1_CUTOUT_PATH,
    "product",
    "always",
    _validate_edit,
    _execute_edit,
    v1_body=lambda result: {"result_url": result["image_url"]},
)
TEST_OPERATIONS = [EDIT, GENERATE, ENHANCE, V1_CUTOUT]


@dataclass
class Delivery:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server: records POSTs (answering with queued codes, then 200) and serves GETs."""

    url: str
    deliveries: queue.Queue[Delivery] = field(default_factory=queue.Queue)
    answers: list[int] = field(default_factory=list)
    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)

    def next_delivery(self, timeout: float = 5.0) -> Delivery:
        return self.deliveries.get(timeout=timeout)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """Run a :class:`Receiver` on 127.0.0.1 for the duration of the block."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            rec = box["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.deliveries.put(Delivery(self.path, dict(self.headers.items()), body))
            code = rec.answers.pop(0) if rec.answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            code, data, content_type = box["r"].pages.get(self.path, (404, b"", "text/plain"))
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

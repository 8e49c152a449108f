"""Inputs and readers shared by the operation tests."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import httpx
from PIL import Image, ImageDraw

AUTH = {"api_token": "ops-token"}

SUBJECT = (200, 30, 40)
BACKGROUND = (235, 235, 230)


def product_photo(size: tuple[int, int] = (120, 90), mode: str = "RGB") -> Image.Image:
    """A red object on a light studio background: a cut-out's textbook case."""
    image = Image.new("RGB", size, BACKGROUND)
    w, h = size
    ImageDraw.Draw(image).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=SUBJECT)
    return image.convert(mode)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """One pixel as a tuple of channel values (also for single-channel images)."""
    value = image.getpixel(xy)
    assert value is not None
    return tuple(value) if isinstance(value, tuple) else (int(value),)


def encode(image: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def b64(image: Image.Image, fmt: str = "PNG") -> str:
    """Raw base64 (no data: header), as Bria takes images."""
    return base64.b64encode(encode(image, fmt)).decode("ascii")


def fetch(url: str) -> bytes:
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200, (url, answer.status_code)
    return answer.content


def open_url(url: str) -> Image.Image:
    image = Image.open(io.BytesIO(fetch(url)))
    image.load()
    return image


def run_sync(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A v2 call with ``sync=true``: its ``result``."""
    answer = http.post(path, json={**body, "sync": True})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def final_status(http: httpx.Client, request_id: str, timeout_s: float = 20) -> dict[str, Any]:
    """Poll the status service until the job leaves IN_PROGRESS."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/v2/status/{request_id}").json()
        if body["status"] != "IN_PROGRESS":
            return body
        time.sleep(0.02)
    raise AssertionError(f"{request_id} did not finish in {timeout_s} s")


def run_async(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit (202), poll, and return the final status body."""
    answer = http.post(path, json=body)
    assert answer.status_code == 202, answer.text
    return final_status(http, answer.json()["request_id"])


def error_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The ``error`` object of a Bria error envelope, after checking the status code."""
    assert answer.status_code == status, answer.text
    envelope = answer.json()
    assert set(envelope) == {"error", "request_id"}, envelope
    error: dict[str, Any] = envelope["error"]
    assert error["code"] == status
    return error


def json_of(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value

"""Video: the presigned-like upload flow and the async video jobs with small real animations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from PIL import Image

from bria_dagster.video_files import decode_frames, encode_video

from .helpers import encode, error_of, fetch, product_photo, run_async

CLIP = encode_video([product_photo((64, 48)).rotate(i * 30) for i in range(4)], "mp4_h264", 8)


def _upload(http: httpx.Client, data: bytes = CLIP) -> str:
    grant = http.post("/v2/video/upload", json={"media_type": "video/mp4"})
    assert grant.status_code == 200, grant.text
    result = grant.json()["result"]
    assert set(result) == {"upload_url", "upload_fields", "file_url"}
    fields = {key: str(value) for key, value in result["upload_fields"].items()}
    sent = httpx.post(result["upload_url"], data=fields, files={"file": ("clip.mp4", data)})
    assert sent.status_code == 204, sent.text
    return str(result["file_url"])


def test_upload_then_file_url_serves_the_bytes(http: httpx.Client) -> None:
    file_url = _upload(http)
    assert fetch(file_url) == CLIP


def test_upload_without_a_file_part_is_refused(http: httpx.Client) -> None:
    grant = http.post("/v2/video/upload", json={}).json()["result"]
    answer = httpx.post(grant["upload_url"], data={"key": "k"}, files={"other": ("a", b"1")})
    assert answer.status_code == 400


def test_upload_needs_a_token(http: httpx.Client) -> None:
    answer = httpx.post(str(http.base_url).rstrip("/") + "/v2/video/upload", json={})
    assert answer.status_code == 401


VIDEO_JOBS: dict[str, tuple[dict[str, Any], str]] = {
    "/v2/video/edit/remove_background": ({"background_color": "White"}, "video_url"),
    "/v2/video/edit/increase_resolution": ({"desired_increase": 2}, "video_url"),
    "/v2/video/edit/green_screen": ({"green_shade": "chroma_green"}, "video_url"),
    "/v2/video/segment/mask_by_prompt": ({"prompt": "the dancer"}, "mask_url"),
    "/v2/video/segment/mask_by_key_points": (
        {"key_points": [{"x": 10, "y": 10, "type": "positive"}]},
        "mask_url",
    ),
}


@pytest.mark.parametrize("path", sorted(VIDEO_JOBS))
def test_video_jobs_make_a_video_of_every_input_frame(http: httpx.Client, path: str) -> None:
    extra, field = VIDEO_JOBS[path]
    body = {"video": _upload(http), **extra}
    error_of(http.post(path, json={**body, "sync": True}), 400)
    status = run_async(http, path, body)
    assert status["status"] == "COMPLETED", status
    frames, rate = decode_frames(fetch(status["result"][field]))
    assert len(frames) == 4 and rate == 8
    assert frames[0].size == ((128, 96) if "increase_resolution" in path else (64, 48))


def test_replace_background_and_erase_take_their_second_input(http: httpx.Client) -> None:
    video = _upload(http)
    replaced = run_async(
        http,
        "/v2/video/edit/replace_background",
        {"video": video, "background_url": _upload(http, encode(Image.new("RGB", (8, 8), "teal")))},
    )
    assert replaced["status"] == "COMPLETED" and replaced["result"]["video_url"]
    erased = run_async(http, "/v2/video/edit/erase", {"video": video, "mask": _upload(http)})
    assert erased["status"] == "COMPLETED" and erased["result"]["video_url"]


def test_an_unreachable_video_ends_the_job_with_460(http: httpx.Client) -> None:
    status = run_async(
        http, "/v2/video/edit/remove_background", {"video": "http://127.0.0.1:9/gone.mp4"}
    )
    assert status["status"] == "ERROR" and status["error"]["code"] == 460

"""Video jobs work on real frames when Pillow can read the input (an animation, such as the
emulator's own video results, or a still), so their results chain like Bria's do."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image, ImageSequence

from bria_dagster.emulator import EmulatorServer

from .helpers import SUBJECT, b64, encode, fetch, pixel, product_photo, run_async
from .test_tailored import _trained_model


def _gif(frames: int = 3) -> bytes:
    shots = [
        product_photo((120, 90)).rotate(i * 10, fillcolor=(235, 235, 230)) for i in range(frames)
    ]
    buffer = io.BytesIO()
    shots[0].save(buffer, format="GIF", save_all=True, append_images=shots[1:], duration=100)
    return buffer.getvalue()


def _host(http: httpx.Client, data: bytes, ext: str = "gif") -> str:
    answer = http.post(
        "/_emulator/files", params={"content_type": f"image/{ext}", "ext": ext}, content=data
    )
    return str(answer.json()["url"])


def _frames(url: str) -> list[Image.Image]:
    clip = Image.open(io.BytesIO(fetch(url)))
    return [frame.convert("RGB") for frame in ImageSequence.Iterator(clip)]


def _video(
    http: httpx.Client, path: str, body: dict[str, Any], field: str = "video_url"
) -> list[Image.Image]:
    status = run_async(http, path, body)
    assert status["status"] == "COMPLETED", status
    return _frames(status["result"][field])


def _near(a: Any, b: Any, tolerance: int = 40) -> bool:
    return max(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True)) <= tolerance


def test_remove_background_puts_each_frame_on_the_colour(http: httpx.Client) -> None:
    frames = _video(
        http,
        "/v2/video/edit/remove_background",
        {"video": _host(http, _gif()), "background_color": "Blue"},
    )
    assert len(frames) == 3 and frames[0].size == (120, 90)
    assert _near(frames[0].getpixel((2, 2)), (0, 0, 255))
    assert _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_results_chain_into_increase_resolution(http: httpx.Client) -> None:
    status = run_async(http, "/v2/video/edit/green_screen", {"video": _host(http, _gif())})
    green = _frames(status["result"]["video_url"])
    assert _near(green[0].getpixel((2, 2)), (0, 177, 64))
    bigger = _video(
        http,
        "/v2/video/edit/increase_resolution",
        {"video": status["result"]["video_url"], "desired_increase": 2},
    )
    assert bigger[0].size == (240, 180) and len(bigger) == len(green)


def test_replace_background_uses_the_background_picture(http: httpx.Client) -> None:
    backdrop = _host(http, encode(Image.new("RGB", (60, 60), (250, 200, 0))), "png")
    frames = _video(
        http,
        "/v2/video/edit/replace_background",
        {"video": _host(http, _gif()), "background_url": backdrop},
    )
    assert _near(frames[0].getpixel((2, 2)), (250, 200, 0))
    assert _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_masks_follow_the_subject_frame_by_frame(http: httpx.Client) -> None:
    masks = _video(
        http,
        "/v2/video/segment/mask_by_prompt",
        {"video": _host(http, _gif()), "prompt": "the ball"},
        "mask_url",
    )
    assert len(masks) == 3
    assert pixel(masks[0], (60, 45))[0] > 200 and pixel(masks[0], (2, 2))[0] < 50


def test_erase_removes_the_subject_from_each_frame(http: httpx.Client) -> None:
    video = _host(http, _gif())
    frames = _video(http, "/v2/video/edit/erase", {"video": video, "mask": video})
    assert not _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_image_to_video_animates_the_given_picture(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    model_id = str(_trained_model(http, emulator)["id"])
    body = {"tailored_model_id": model_id, "image": b64(product_photo((120, 90)))}
    frames = _video(http, "/v2/video/generate/tailored/image-to-video", body)
    assert len(frames) > 1 and _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_an_unreachable_background_fails_the_job_with_422(http: httpx.Client) -> None:
    body = {"video": _host(http, _gif()), "background_url": "http://127.0.0.1:9/bg.png"}
    status = run_async(http, "/v2/video/edit/replace_background", body)
    assert status["status"] == "ERROR" and status["error"]["code"] == 422

"""Video jobs decode the input container with PyAV, work frame by frame, and encode the
requested container and codec at the input's frame rate, so results chain like Bria's do."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from bria_dagster.emulator import EmulatorServer
from bria_dagster.video_files import PRESETS, decode_frames, encode_video, inspect_video

from .helpers import SUBJECT, b64, encode, fetch, pixel, product_photo, run_async
from .test_tailored import _trained_model


def _clip(frames: int = 3, preset: str = "mp4_h264", fps: int = 10) -> bytes:
    shots = [
        product_photo((120, 90)).rotate(i * 10, fillcolor=(235, 235, 230)) for i in range(frames)
    ]
    return encode_video(shots, preset, fps)


def _host(http: httpx.Client, data: bytes, content_type: str = "video/mp4") -> str:
    ext = content_type.rsplit("/", 1)[-1]
    answer = http.post(
        "/_emulator/files", params={"content_type": content_type, "ext": ext}, content=data
    )
    return str(answer.json()["url"])


def _frames(url: str) -> list[Image.Image]:
    return [frame.convert("RGB") for frame in decode_frames(fetch(url))[0]]


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
        {"video": _host(http, _clip()), "background_color": "Blue"},
    )
    assert len(frames) == 3 and frames[0].size == (120, 90)
    assert _near(frames[0].getpixel((2, 2)), (0, 0, 255))
    assert _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_results_chain_into_increase_resolution(http: httpx.Client) -> None:
    status = run_async(http, "/v2/video/edit/green_screen", {"video": _host(http, _clip())})
    green = _frames(status["result"]["video_url"])
    assert _near(green[0].getpixel((2, 2)), (0, 177, 64))
    bigger = _video(
        http,
        "/v2/video/edit/increase_resolution",
        {"video": status["result"]["video_url"], "desired_increase": 2},
    )
    assert bigger[0].size == (240, 180) and len(bigger) == len(green)


def test_replace_background_uses_the_background_picture(http: httpx.Client) -> None:
    backdrop = _host(http, encode(Image.new("RGB", (60, 60), (250, 200, 0))), "image/png")
    frames = _video(
        http,
        "/v2/video/edit/replace_background",
        {"video": _host(http, _clip()), "background_url": backdrop},
    )
    assert _near(frames[0].getpixel((2, 2)), (250, 200, 0))
    assert _near(frames[0].getpixel((60, 45)), SUBJECT)


def test_masks_follow_the_subject_frame_by_frame(http: httpx.Client) -> None:
    masks = _video(
        http,
        "/v2/video/segment/mask_by_prompt",
        {"video": _host(http, _clip()), "prompt": "the ball"},
        "mask_url",
    )
    assert len(masks) == 3
    assert pixel(masks[0], (60, 45))[0] > 200 and pixel(masks[0], (2, 2))[0] < 50


def test_erase_removes_the_subject_from_each_frame(http: httpx.Client) -> None:
    video = _host(http, _clip())
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
    body = {"video": _host(http, _clip()), "background_url": "http://127.0.0.1:9/bg.png"}
    status = run_async(http, "/v2/video/edit/replace_background", body)
    assert status["status"] == "ERROR" and status["error"]["code"] == 422


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_is_encoded_as_asked(http: httpx.Client, preset: str) -> None:
    alpha = PRESETS[preset].alpha
    body = {
        "video": _host(http, _clip(frames=5, fps=10)),
        "background_color": "Transparent" if alpha else "White",
        "output_container_and_codec": preset,
    }
    status = run_async(http, "/v2/video/edit/remove_background", body)
    assert status["status"] == "COMPLETED", status
    answer = httpx.get(status["result"]["video_url"], timeout=30)
    assert answer.headers["content-type"].startswith(PRESETS[preset].content_type)
    facts = inspect_video(io.BytesIO(answer.content))
    assert facts is not None and facts.frames == 5 and (facts.width, facts.height) == (120, 90)
    assert facts.has_alpha is alpha
    assert facts.duration_s == pytest.approx(0.5, abs=0.05)


def test_a_gif_input_is_read_frame_by_frame(http: httpx.Client) -> None:
    shots = [product_photo((120, 90)).rotate(i * 10) for i in range(4)]
    gif = encode(shots[0], "GIF", save_all=True, append_images=shots[1:], duration=100)
    frames = _video(http, "/v2/video/edit/green_screen", {"video": _host(http, gif, "image/gif")})
    assert len(frames) == 4 and frames[0].size == (120, 90)


def test_an_input_ffmpeg_cannot_decode_ends_the_job_with_415(http: httpx.Client) -> None:
    body = {"video": _host(http, b"\x00\x00\x00\x18ftypmp42" + bytes(200))}
    status = run_async(http, "/v2/video/edit/remove_background", body)
    assert status["status"] == "ERROR" and status["error"]["code"] == 415

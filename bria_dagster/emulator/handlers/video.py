"""The video family: video edits, image-to-video, segmentation masks.

The input container is decoded with PyAV, each frame is processed like an image, and the
result is encoded in the requested ``output_container_and_codec`` (every preset Bria documents;
see :data:`bria_dagster.video_files.PRESETS`) at the input's frame rate, so it lasts as long as
the input."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from PIL import Image, ImageOps

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import Body, Work, check_tailored, load
from bria_dagster.video_files import PRESETS, VideoDecodeError, decode_frames, encode_video

VIDEO_BACKGROUNDS = {
    "Transparent": None,
    "Black": (0, 0, 0),
    "White": (255, 255, 255),
    "Gray": (128, 128, 128),
    "Red": (255, 0, 0),
    "Green": (0, 255, 0),
    "Blue": (0, 0, 255),
    "Yellow": (255, 255, 0),
    "Cyan": (0, 255, 255),
    "Magenta": (255, 0, 255),
    "Orange": (255, 165, 0),
}
GREEN_SHADES = {
    "broadcast_green": (0, 177, 64),
    "chroma_green": (0, 255, 0),
    "blue_screen": (0, 0, 255),
}
MAX_VIDEO_PIXELS = 7680 * 4320
"""Video increase_resolution refuses outputs above 8K (bria-api.md §5.7)."""
MAX_FRAMES = 1800
"""Frames read from an input at most (60 s at 30 fps, Bria's longest input)."""
MAX_SIDE = 640
"""The emulator works on frames fitted in this many pixels (Bria keeps the input's size)."""
IMAGE_TO_VIDEO_FPS = 12
DEFAULT_PRESETS = {
    "/v2/video/edit/replace_background": "webm_vp9",
    "/v2/video/edit/green_screen": "webm_vp9",
}
"""Each endpoint's default ``output_container_and_codec`` per Bria's OpenAPI (else mp4_h264)."""
Frames = list[Image.Image]


def _clip(ctx: OperationContext, body: Body, field: str) -> tuple[Frames, Fraction]:
    """The frames of a video (or image) input and its frame rate; 415 when FFmpeg cannot
    decode it, as Bria answers an unsupported container or codec."""
    try:
        frames, rate = decode_frames(ctx.load_bytes(body[field], field), limit=MAX_FRAMES)
    except VideoDecodeError as error:
        raise ApiError(415, "Unsupported video", f"{field}: {error}") from None
    if max(frames[0].size) > MAX_SIDE:
        frames = [ImageOps.contain(frame, (MAX_SIDE, MAX_SIDE)) for frame in frames]
    return [frame.convert("RGB") for frame in frames], rate


def _preset(body: Body, endpoint: str) -> str:
    chosen = body.get("output_container_and_codec")
    if chosen:
        return str(chosen)
    if body.get("background_color") == "Transparent":
        return "webm_vp9"  # what Bria answers a transparent removal with (bria-api.md §5.7)
    return DEFAULT_PRESETS.get(endpoint, "mp4_h264")


def _store(ctx: OperationContext, body: Body, frames: Frames, rate: Fraction) -> str:
    name = _preset(body, ctx.endpoint)
    preset = PRESETS[name]
    return ctx.store_bytes(encode_video(frames, name, rate), preset.content_type, preset.extension)


def _on(frames: Frames, colour: tuple[int, int, int] | None) -> Frames:
    """Each frame's subject on a flat ``colour`` (None: transparent)."""
    cut = [draw.remove_background(frame) for frame in frames]
    if colour is None:
        return cut
    return [Image.alpha_composite(Image.new("RGBA", f.size, (*colour, 255)), f) for f in cut]


def _upscaled(frames: Frames, body: Body) -> Frames:
    factor = int(body.get("desired_increase") or 2)
    width, height = frames[0].width * factor, frames[0].height * factor
    if width * height > MAX_VIDEO_PIXELS:
        raise ApiError(422, "Invalid request", "desired_increase: the result would exceed 8K")
    return [draw.upscale(frame, factor) for frame in frames]


def _new_background(ctx: OperationContext, body: Body, frames: Frames) -> Frames:
    try:
        backdrop = _clip(ctx, body, "background_url")[0][0]
    except ApiError as error:  # Bria answers an unreachable background with 422
        raise ApiError(422, "Invalid background", error.details) from None
    cut = [draw.remove_background(frame) for frame in frames]
    fitted = ImageOps.fit(backdrop, cut[0].size).convert("RGBA")
    return [Image.alpha_composite(fitted, frame) for frame in cut]


VideoEdit = Callable[[OperationContext, Body, Frames], Frames]
VIDEO_EDITS: dict[str, VideoEdit] = {
    "/v2/video/edit/remove_background": lambda c, b, f: _on(
        f, VIDEO_BACKGROUNDS.get(str(b.get("background_color") or "Black"), (0, 0, 0))
    ),
    "/v2/video/edit/increase_resolution": lambda c, b, f: _upscaled(f, b),
    "/v2/video/edit/green_screen": lambda c, b, f: _on(
        f, GREEN_SHADES[str(b.get("green_shade") or "broadcast_green")]
    ),
    "/v2/video/edit/replace_background": _new_background,
    "/v2/video/edit/erase": lambda c, b, f: [draw.erase_foreground(frame) for frame in f],
}


def _video_work(edit: VideoEdit | None) -> Work:
    """Read the video (or animate the image, for image-to-video), apply ``edit``, store."""

    def work(ctx: OperationContext, body: Body) -> Body:
        if "video" in body:
            frames, rate = _clip(ctx, body, "video")
            if "mask" in body:
                _clip(ctx, body, "mask")
        else:  # image-to-video: the picture, animated
            check_tailored(ctx, body, missing=404)
            frames = draw.spin(load(ctx, body, body["image"], "image"))
            rate = Fraction(IMAGE_TO_VIDEO_FPS)
        frames = edit(ctx, body, frames) if edit else frames
        return {"video_url": _store(ctx, body, frames, rate)}

    return work


def _video_mask(ctx: OperationContext, body: Body) -> Body:
    frames, rate = _clip(ctx, body, "video")
    masks = [draw.subject_mask(frame).convert("RGB") for frame in frames]
    return {"mask_url": _store(ctx, body, masks, rate)}


WORK: dict[str, Work] = {
    **{path: _video_work(edit) for path, edit in VIDEO_EDITS.items()},
    "/v2/video/generate/tailored/image-to-video": _video_work(None),
    "/v2/video/segment/mask_by_prompt": _video_mask,
    "/v2/video/segment/mask_by_key_points": _video_mask,
    "/v2/video/generate/foreground_mask": _video_mask,
}
"""The work of each video endpoint (the upload flow is a plain route, :mod:`.uploads`)."""

"""The video family: video edits, image-to-video, segmentation masks. A clip is a list of
frames, encoded as an animated GIF."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import Body, Work, check_tailored, load

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
Frames = list[Image.Image]


def _clip(ctx: OperationContext, body: Body, field: str) -> Frames:
    """The frames of a video input: an animation or still image is read for real; a real video
    container (Pillow cannot decode one) is stood in for by a generated clip."""
    frames = draw.frames_of(ctx.load_bytes(body[field], field))
    if frames is None:
        still = draw.generate(body.get("prompt") or "video", ctx.seed, (128, 128))
        frames = draw.spin(still)
    return frames


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
        backdrop = _clip(ctx, body, "background_url")[0]
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
            frames = _clip(ctx, body, "video")
            if "mask" in body:
                _clip(ctx, body, "mask")
        else:  # image-to-video: the picture, animated
            check_tailored(ctx, body, missing=404)
            frames = draw.spin(load(ctx, body, body["image"], "image"))
        frames = edit(ctx, body, frames) if edit else frames
        return {"video_url": ctx.store_bytes(draw.encode_clip(frames), "image/gif", "gif")}

    return work


def _video_mask(ctx: OperationContext, body: Body) -> Body:
    masks = [draw.subject_mask(frame).convert("RGB") for frame in _clip(ctx, body, "video")]
    return {"mask_url": ctx.store_bytes(draw.encode_clip(masks), "image/gif", "gif")}


WORK: dict[str, Work] = {
    **{path: _video_work(edit) for path, edit in VIDEO_EDITS.items()},
    "/v2/video/generate/tailored/image-to-video": _video_work(None),
    "/v2/video/segment/mask_by_prompt": _video_mask,
    "/v2/video/segment/mask_by_key_points": _video_mask,
    "/v2/video/generate/foreground_mask": _video_mask,
}
"""The work of each video endpoint (the upload flow is a plain route, :mod:`.uploads`)."""

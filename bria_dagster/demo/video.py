"""The demo's video branch: a product turntable clip gets its background removed.

    turntable_clip ─► product_video

``turntable_clip`` renders a short clip of the first product turning on a turntable (PyAV, so
no video file is shipped), stores it, and uploads it to Bria's video upload service (video
inputs are public URLs). ``product_video`` is a Bria video edit: the clip with a transparent
background, as WebM/VP9 with alpha, checked for being readable, as long as the clip and
transparent. Re-running reuses the upload while it is fresh, so the edit is not paid twice.
"""

import hashlib
import math
import time

import dagster as dg
from PIL import Image, ImageDraw

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.assets.metadata import materialization_metadata
from bria_dagster.client.types.video import VideoRemoveBackgroundRequest
from bria_dagster.resources import BriaResource, BriaStorageResource
from bria_dagster.results.images import inspect_result, poster_data_uri
from bria_dagster.results.records import METADATA_IMAGES, ImageRecord
from bria_dagster.video_files import encode_video

CLIP_KEY = "turntable_clip"
CLIP_SIZE = (192, 144)
CLIP_FRAMES = 24
CLIP_FPS = 12
UPLOAD_REUSE_S = 12 * 3600
"""An uploaded clip's ``file_url`` is kept about a day; reuse it for half that."""
BACKDROP = (236, 232, 226)
OWNERS = ["team:content"]


def turntable_frames(
    colour: tuple[int, int, int] = (200, 40, 50),
    frames: int = CLIP_FRAMES,
    size: tuple[int, int] = CLIP_SIZE,
) -> list[Image.Image]:
    """A bottle turning once on a turntable: its label slides round and its shading turns."""
    width, height = size
    shots = []
    for index in range(frames):
        angle = 2 * math.pi * index / frames
        shot = Image.new("RGB", size, BACKDROP)
        draw = ImageDraw.Draw(shot)
        cx, base = width // 2, height - 22
        draw.ellipse((cx - 60, base - 8, cx + 60, base + 12), fill=(120, 118, 115))
        body = (cx - 26, 30, cx + 26, base)
        shade = 0.75 + 0.25 * math.cos(angle)
        draw.rounded_rectangle(body, radius=10, fill=tuple(int(c * shade) for c in colour))
        draw.rectangle((cx - 9, 14, cx + 9, 32), fill=(60, 60, 64))
        label_x = cx + int(20 * math.sin(angle))
        if math.cos(angle) > -0.3:  # the label is on the side facing the camera
            draw.rectangle((label_x - 12, 62, label_x + 12, 92), fill=(235, 190, 60))
        shots.append(shot)
    return shots


@dg.asset(
    name=CLIP_KEY,
    group_name="video",
    owners=OWNERS,
    kinds={"video"},  # not "bria": `bria-ledger estimate` only dry-runs Bria steps
    description="A turntable clip of the product (2 s, H.264), made with PyAV and uploaded "
    "to Bria's video upload service.",
)
def turntable_clip(
    context: dg.AssetExecutionContext, bria: BriaResource, bria_storage: BriaStorageResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Render, store (write-once, by content) and upload the clip."""
    store = bria_storage.get_store()
    data = encode_video(turntable_frames(), "mp4_h264", CLIP_FPS)
    digest = hashlib.sha256(data).hexdigest()
    key = f"{CLIP_KEY}/{digest[:32]}.mp4"
    info = store.put(
        key, data, content_type="video/mp4", provenance={"made_by": "bria-dagster-demo"}
    )
    file_url, uploaded_at = _fresh_upload(context, digest)
    if file_url is None:
        file_url = bria.get_client().video.upload(data, filename="turntable.mp4").file_url
        uploaded_at = time.time()
    with store.open(key) as file:
        facts = inspect_result(file, "video/mp4", "")
        poster = poster_data_uri(file)
    video = facts.video
    assert video is not None  # PyAV reads what PyAV wrote
    record = ImageRecord(
        partition_key=None,
        variant=None,
        request_id="",
        endpoint="/v2/video/upload",
        uri=info.uri,
        key=key,
        size=info.size,
        sha256=info.sha256,
        content_type="video/mp4",
        width=video.width,
        height=video.height,
        has_alpha=False,
        result_url=file_url,
        stored_at=uploaded_at,
        duration_s=video.duration_s,
        fps=video.fps,
        frames=video.frames,
        codec=video.codec,
    )
    previews = [(record, poster)] if poster else []
    return dg.MaterializeResult(metadata=materialization_metadata([record], previews, None))


def _fresh_upload(context: dg.AssetExecutionContext, digest: str) -> tuple[str | None, float]:
    """The last upload of the same clip, while its URL is still fresh."""
    found = context.instance.fetch_materializations(context.asset_key, limit=1).records
    if not found or found[0].asset_materialization is None:
        return None, 0.0
    value = found[0].asset_materialization.metadata.get(METADATA_IMAGES)
    items = value.value if value is not None and isinstance(value.value, list) else []
    for item in items:
        record = ImageRecord.from_json(item)
        fresh = record.stored_at is not None and time.time() - record.stored_at < UPLOAD_REUSE_S
        if record.sha256 == digest and record.result_url and fresh:
            return record.result_url, record.stored_at or 0.0
    return None, 0.0


def product_video_request(step: StepInput) -> VideoRemoveBackgroundRequest:
    """The uploaded clip with its background made transparent (WebM/VP9 keeps alpha)."""
    return VideoRemoveBackgroundRequest(
        video=step.image.result_url or "",
        background_color="Transparent",
        output_container_and_codec="webm_vp9",
    )


product_video = bria_asset(
    "product_video",
    product_video_request,
    upstream=turntable_clip,
    group_name="video",
    owners=OWNERS,
    kinds={"bria", "video"},
    description="The turntable clip without its background (transparent WebM/VP9).",
)

VIDEO_ASSETS = [turntable_clip, product_video]
"""The video branch's assets, in dependency order."""

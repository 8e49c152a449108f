"""Video files with PyAV (FFmpeg inside its wheels): Bria's output presets, encoding frames,
decoding frames, and reading a stored video's facts without holding it in memory.

Shared by the emulator (which decodes its inputs and encodes the requested preset) and the
results layer (which inspects what it stores). Imports no other part of the package.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Any

import av
from av.codec.context import CodecContext
from PIL import Image


@dataclass(frozen=True)
class Preset:
    """One ``output_container_and_codec`` value: how FFmpeg writes it."""

    container: str
    """FFmpeg's muxer name."""
    codec: str
    """FFmpeg's encoder name."""
    pix_fmt: str
    alpha: bool
    """Whether the preset carries an alpha plane."""
    content_type: str
    extension: str


PRESETS: dict[str, Preset] = {
    "mp4_h264": Preset("mp4", "libx264", "yuv420p", False, "video/mp4", "mp4"),
    "mp4_h265": Preset("mp4", "libx265", "yuv420p", False, "video/mp4", "mp4"),
    "webm_vp9": Preset("webm", "libvpx-vp9", "yuva420p", True, "video/webm", "webm"),
    "mov_h265": Preset("mov", "libx265", "yuv420p", False, "video/quicktime", "mov"),
    "mov_proresks": Preset("mov", "prores_ks", "yuva444p10le", True, "video/quicktime", "mov"),
    "mkv_h264": Preset("matroska", "libx264", "yuv420p", False, "video/x-matroska", "mkv"),
    "mkv_h265": Preset("matroska", "libx265", "yuv420p", False, "video/x-matroska", "mkv"),
    "mkv_vp9": Preset("matroska", "libvpx-vp9", "yuva420p", True, "video/x-matroska", "mkv"),
    "gif": Preset("gif", "gif", "rgb8", False, "image/gif", "gif"),
}
"""Every preset Bria documents, each encoded by the PyAV wheel's FFmpeg (libx264, libx265,
libvpx-vp9, prores_ks, gif). The alpha presets are the three Bria accepts with a transparent
background."""

VIDEO_CONTENT_TYPES: dict[str, str] = {
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "video/x-matroska": "mkv",
}
"""Extensions of the video MIME types results are served with."""

_ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}
"""FFmpeg's native VP8/VP9 decoders drop the alpha plane WebM keeps beside each frame;
libvpx's read it."""

_ENCODER_OPTIONS = {
    "libx265": {"x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},  # seconds, not minutes
}


def encode_video(frames: Sequence[Image.Image], preset: str, fps: Fraction | int = 12) -> bytes:
    """Encode ``frames`` (all one size) as ``preset`` at ``fps`` frames a second."""
    spec = PRESETS[preset]
    width, height = frames[0].size
    if spec.pix_fmt.startswith("yuv"):  # chroma subsampling needs even sides
        width, height = width - width % 2, height - height % 2
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=spec.container) as container:
        stream: Any = container.add_stream(spec.codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, spec.pix_fmt
        stream.options = dict(_ENCODER_OPTIONS.get(spec.codec, {}))
        for frame in frames:
            picture = frame.convert("RGBA" if spec.alpha else "RGB")
            if picture.size != (width, height):
                picture = picture.crop((0, 0, width, height))
            frame_in = _frame(picture).reformat(format=spec.pix_fmt)
            for packet in stream.encode(frame_in):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode_frames(
    source: bytes | IO[bytes], limit: int | None = None
) -> tuple[list[Image.Image], Fraction]:
    """The frames of a video (any container FFmpeg reads; GIF, PNG and other images too) as RGBA
    (alpha kept where the file has it) and the frame rate. Raises :class:`VideoDecodeError`."""
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    frames: list[Image.Image] = []
    try:
        with av.open(file, "r") as container:
            if not container.streams.video:
                raise VideoDecodeError("no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.base_rate or Fraction(12)
            for frame in _frames(container, stream):
                frames.append(_image(frame))
                if limit is not None and len(frames) >= limit:
                    break
    except av.FFmpegError as exc:
        raise VideoDecodeError(str(exc)) from None
    if not frames:
        raise VideoDecodeError("no frame decodes")
    return frames, Fraction(rate)


class VideoDecodeError(ValueError):
    """The bytes are not a video (or image) FFmpeg can decode."""


@dataclass(frozen=True)
class VideoFacts:
    """A stored video's facts, read from its container and its first frame."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frames: int
    has_alpha: bool
    """True only when the first frame has an alpha plane with some pixel not opaque."""

    @property
    def content_type(self) -> str:
        """The MIME type of the container."""
        return _CONTAINERS.get(self.container, ("application/octet-stream", "bin"))[0]

    @property
    def extension(self) -> str:
        """The file extension of the container."""
        return _CONTAINERS.get(self.container, ("application/octet-stream", "bin"))[1]


_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("video/mp4", "mp4"),
    "matroska,webm": ("video/webm", "webm"),
    "gif": ("image/gif", "gif"),
}


def inspect_video(file: IO[bytes]) -> VideoFacts | None:
    """Read the video in ``file`` (from its start): packets are counted, not decoded, and only
    the first frame is decoded, so memory stays flat whatever the size. None when it is not a
    video FFmpeg reads."""
    try:
        with _first_frame(file) as found:
            if found is None:
                return None
            container, stream, first = found
            alpha = _has_alpha_plane(first) and _transparent_somewhere(first)
            rate = stream.average_rate or stream.base_rate or 0
            duration = _duration(container, stream)
            name, codec = container.format.name, stream.codec_context.name
        file.seek(0)
        with av.open(file, "r") as again:
            count = sum(1 for packet in again.demux(again.streams.video[0]) if packet.size)
    except (av.FFmpegError, ValueError):
        return None
    finally:
        file.seek(0)
    return VideoFacts(
        container=name,
        codec=codec,
        width=first.width,
        height=first.height,
        fps=round(float(rate), 3),
        duration_s=round(duration, 3),
        frames=count,
        has_alpha=alpha,
    )


def poster_frame(file: IO[bytes]) -> Image.Image | None:
    """The first frame of the video in ``file`` (RGBA where it has alpha), or None."""
    try:
        with _first_frame(file) as found:
            return _image(found[2]) if found is not None else None
    except av.FFmpegError:
        return None


def probe_duration(url: str, timeout_s: float = 30.0) -> float:
    """The duration of the video at ``url`` (http(s)), read from its container's header by
    FFmpeg, which fetches only what it needs. Raises ValueError when it cannot be read."""
    try:
        with av.open(url, "r", timeout=timeout_s) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            return _duration(container, container.streams.video[0])
    except av.FFmpegError as exc:
        raise ValueError(str(exc)) from None


@contextlib.contextmanager
def _first_frame(file: IO[bytes]) -> Iterator[tuple[Any, Any, av.VideoFrame] | None]:
    """The open container, its video stream and first frame; None when there is no frame."""
    file.seek(0)
    try:
        with av.open(file, "r") as container:
            stream = container.streams.video[0] if container.streams.video else None
            first = next(_frames(container, stream), None) if stream is not None else None
            yield (container, stream, first) if first is not None else None
    finally:
        file.seek(0)


def _frames(container: Any, stream: Any) -> Iterator[av.VideoFrame]:
    decoder_name = _ALPHA_DECODERS.get(stream.codec_context.name)
    if decoder_name is None:
        yield from container.decode(stream)
        return
    decoder: Any = CodecContext.create(decoder_name, "r")
    for packet in container.demux(stream):
        yield from decoder.decode(packet)


def _has_alpha_plane(frame: av.VideoFrame) -> bool:
    name = frame.format.name
    return name.startswith(("yuva", "gbrap", "rgba", "bgra", "argb", "abgr", "ya"))


def _frame(picture: Image.Image) -> av.VideoFrame:
    """``picture`` as a frame, alpha kept (PyAV's ``from_image`` drops it)."""
    mode = "rgba" if picture.mode == "RGBA" else "rgb24"
    frame = av.VideoFrame(picture.width, picture.height, mode)
    plane = frame.planes[0]
    raw, row = picture.tobytes(), picture.width * (4 if mode == "rgba" else 3)
    padding = bytes(plane.line_size - row)
    plane.update(b"".join(raw[at : at + row] + padding for at in range(0, len(raw), row)))
    return frame


def _image(frame: av.VideoFrame) -> Image.Image:
    """The frame as an RGBA picture (PyAV's ``to_image`` drops alpha)."""
    rgba = frame.reformat(format="rgba")
    plane = rgba.planes[0]
    size = (rgba.width, rgba.height)
    return Image.frombuffer("RGBA", size, bytes(plane), "raw", "RGBA", plane.line_size, 1)


def _transparent_somewhere(frame: av.VideoFrame) -> bool:
    lowest, _ = _image(frame).getchannel("A").getextrema()
    return bool(lowest < 255)  # type: ignore[operator]  # one band: (min, max) of ints


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return 0.0

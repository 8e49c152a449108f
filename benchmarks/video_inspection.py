"""Peak memory of reading a large stored video's facts: what storing and checking a video adds
to the streamed put (``storage_streaming.py`` measures that one).

Writes a video of about ``--size-mb`` MB (default 100; lossless H.264 of noise, encoded frame by
frame straight to disk), then, in a fresh Python subprocess, opens it as a file and runs what a
video result goes through after its download: ``inspect_video`` (every packet counted, the first
frame decoded) and ``poster_frame`` (the preview). The child measures its own resident memory:
baseline VmRSS after imports, peak VmHWM reset just before (as ``storage_streaming.py`` does).

Target: at most 32 MB added over the baseline, whatever the size. Exit status 1 if missed.

    python benchmarks/video_inspection.py              # about 100 MB
    python benchmarks/video_inspection.py --smoke      # about 8 MB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.storage_streaming import reset_peak, rss_kib  # noqa: E402

TARGET_ADDED_MB = 32.0
SMOKE_SIZE_MB = 8
SIDE = (640, 480)


def write_video(path: Path, size_mb: int) -> int:
    """Lossless H.264 of random frames until the file holds ``size_mb`` MB; its frame count."""
    import av

    frames = written = 0
    with av.open(str(path), "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = *SIDE, "yuv444p"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        while written < size_mb * 1_000_000:
            noise = av.VideoFrame(*SIDE, "rgb24")
            noise.planes[0].update(os.urandom(noise.planes[0].buffer_size))
            for packet in stream.encode(noise):
                written += packet.size
                container.mux(packet)
            frames += 1
        for packet in stream.encode():
            container.mux(packet)
    return frames


def child(path: str) -> dict[str, Any]:
    """Runs in the fresh subprocess: inspect and poster, measured."""
    from bria_dagster.video_files import inspect_video, poster_frame

    with open(path, "rb") as file:
        baseline_kib = rss_kib()
        exact = reset_peak()
        started = time.perf_counter()
        facts = inspect_video(file)
        poster = poster_frame(file)
        seconds = time.perf_counter() - started
        peak_kib = rss_kib("VmHWM") if exact else rss_kib()
    if facts is None or poster is None:
        raise RuntimeError("the video did not read back")
    return {
        "frames": facts.frames,
        "codec": facts.codec,
        "seconds": round(seconds, 3),
        "baseline_rss_mb": round(baseline_kib / 1024, 1),
        "peak_added_mb": round((peak_kib - baseline_kib) / 1024, 1),
        "peak_method": "VmHWM after clear_refs" if exact else "VmRSS after (no reset allowed)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SIZE_MB} MB")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    size_mb = SMOKE_SIZE_MB if args.smoke else args.size_mb
    with tempfile.TemporaryDirectory(prefix="bria-video-bench-") as folder:
        path = Path(folder) / "large.mp4"
        frames = write_video(path, size_mb)
        size = path.stat().st_size
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    figures = json.loads(result.stdout)
    figures |= {"size_mb": round(size / 1e6, 1), "target_added_mb": TARGET_ADDED_MB}
    ratio = figures["peak_added_mb"] / TARGET_ADDED_MB
    print(
        f"video of {figures['size_mb']} MB ({frames} frames, {figures['codec']}): inspected and "
        f"poster made in {figures['seconds']} s, {figures['peak_added_mb']} MB added over "
        f"{figures['baseline_rss_mb']} MB ({ratio:.2f} of the {TARGET_ADDED_MB:.0f} MB bound; "
        f"{figures['peak_method']})"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())

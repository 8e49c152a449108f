"""The README's first command: the whole demo pipeline on a temp folder, every image real."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image

from bria_dagster.demo import run as demo
from bria_dagster.demo.products import load_products
from bria_dagster.demo.video import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE
from bria_dagster.video_files import decode_frames

REPO = Path(__file__).resolve().parents[2]
STEPS = ("product_photo", "cutout", "packshot", "lifestyle_shot", "ad_formats", "ad")
DEMO_CHECKS = {
    "product_photo": ("image_readable", "image_dimensions"),
    "cutout": ("image_readable", "image_alpha"),
    "packshot": ("image_readable",),
    "lifestyle_shot": ("image_readable",),
    "ad_formats": ("image_readable", "image_dimensions"),
    "ad": ("image_readable",),
}
"""The image checks each demo step has: only those that apply to its operation."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_materializes_every_asset_with_real_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("BRIA_API_TOKEN", "BRIA_BASE_URL", "BRIA_STORAGE_URI", "BRIA_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIA_DEMO_EMULATOR_PORT", str(_free_port()))
    monkeypatch.setenv("BRIA_DAGSTER_HOME", str(tmp_path / "bria_home"))
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "instance"
    code = demo.main(["--definitions", str(REPO / "definitions.py"), "--home", str(home)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "local Bria emulator" in out and "dagster dev -w workspace.yaml" in out
    spent = re.search(r"Spend: +(\d+) of the daily cap of 1000 billed requests", out)
    assert spent is not None, out

    skus = [p.sku for p in load_products()]
    assert int(spent.group(1)) >= len(skus) * len(STEPS), "every step's requests are billed"
    images = home / "bria_images"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for step in STEPS:
            materialized = instance.get_materialized_partitions(dg.AssetKey(step))
            assert materialized == set(skus), step
            for sku in skus:
                files = sorted((images / step / sku).glob("*.*"))
                pictures = [f for f in files if f.suffix != ".json"]
                expected = 3 if step == "ad_formats" else 1
                assert len(pictures) == expected, (step, sku, files)
                for picture in pictures:
                    with Image.open(picture) as image:
                        image.load()
                        assert image.width > 0 and image.height > 0
                    assert picture.with_name(picture.name + ".json").exists()
            for name in ("image_readable", "image_dimensions", "image_alpha"):
                key = dg.AssetCheckKey(dg.AssetKey(step), name)
                if name not in DEMO_CHECKS[step]:
                    assert instance.get_latest_asset_check_evaluation_record(key) is None, key
                    continue
                record = instance.get_latest_asset_check_evaluation_record(key)
                assert record is not None, key
                assert record.status.value == "SUCCEEDED", (key, record.status)
        # The tailored half: a model trained on the five brand images, and a visual made with it.
        (model,) = instance.fetch_materializations(
            dg.AssetKey("brand_style_model"), limit=5
        ).records
        trained = model.asset_materialization
        assert trained is not None and model.event_log_entry.run_id == ""  # from the sensor
        assert trained.metadata["bria/image_count"].value == 5
        assert trained.metadata["bria/tailored_model_id"].value > 0
        (visual,) = instance.fetch_materializations(dg.AssetKey("campaign_visual"), limit=5).records
        assert visual.asset_materialization is not None
        meta = visual.asset_materialization.metadata
        assert meta["bria/endpoint"].value == "/v2/image/generate/tailored"
    assert len([f for f in (images / "brand_images").rglob("*.png")]) == 5
    assert len([f for f in (images / "campaign_visual").rglob("*.png")]) == 1
    cutouts = list((images / "cutout").rglob("*.png"))
    with Image.open(cutouts[0]) as cut:
        assert cut.mode == "RGBA" and cut.getchannel("A").getextrema()[0] < 255

    # The video branch: the turntable clip without its background, a real transparent WebM.
    (video,) = [f for f in (images / "product_video").rglob("*.*") if f.suffix != ".json"]
    assert video.suffix == ".webm"
    frames, rate = decode_frames(video.read_bytes())
    assert len(frames) == CLIP_FRAMES and rate == CLIP_FPS and frames[0].size == CLIP_SIZE
    assert frames[0].getchannel("A").getextrema()[0] == 0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for name in ("video_readable", "video_duration", "video_alpha"):
            key = dg.AssetCheckKey(dg.AssetKey("product_video"), name)
            record = instance.get_latest_asset_check_evaluation_record(key)
            assert record is not None and record.status.value == "SUCCEEDED", key

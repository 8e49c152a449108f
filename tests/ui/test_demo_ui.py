"""The demo pipeline in the real UI and under the real daemon.

One `dagster dev` on the repository's `workspace.yaml`, over an instance the demo command
filled (two SKUs, on a local emulator): headless Chromium really shows every asset of the chain
in its group with its checks, a packshot materialization with its decoded image preview and its
passing checks, and the sensor and schedule; the daemon ticks the result sensor, which
materializes a new SKU's photo and launches the rest of the chain.

The README's screenshots come from this run: `BRIA_UI_SCREENSHOTS=docs/images pytest
tests/ui/test_demo_ui.py` writes `asset-graph.png`, `materialization.png`, `tailored-model.png`,
`tailored-materialization.png` and `video-materialization.png` there. The tailored half of the
demo (brand images, the trained style model, the campaign visual) and its video branch are in
the graph; the model, the generation and the video show their previews.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Page

from bria_dagster.demo.video import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE
from bria_dagster.video_files import decode_frames
from tests.demo.test_demo_command import DEMO_CHECKS
from tests.ui.dagster_ui import DagsterUI, free_port, materialize_assets, running_dagster_ui
from tests.ui.ui_pages import (
    DIALOG,
    GRAPH_NODE,
    asset_check_statuses,
    chromium_page,
    collapse_navigation,
    screenshot,
    show_preview_images,
    show_whole_asset_graph,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "workspace.yaml"
LOCATION = "bria_demo"
GROUPS = {
    "product_photo_requests": "catalog",
    "product_photo": "catalog",
    "cutout": "catalog",
    "packshot": "catalog",
    "lifestyle_shot": "marketing",
    "ad_formats": "marketing",
    "ad": "marketing",
}
ASSETS = tuple(GROUPS)
BRAND_GROUPS = {
    "brand_images": "brand",
    "brand_style_model_training": "brand",
    "brand_style_model": "brand",
    "campaign_visual": "brand",
}
"""The tailored half (``bria_dagster/demo/brand.py``): unpartitioned."""
BRAND_ASSETS = tuple(BRAND_GROUPS)
CHAIN = ASSETS[1:]
"""The assets that store images, each with the image checks that apply to it."""
VIDEO_GROUPS = {"turntable_clip": "video", "product_video": "video"}
VIDEO_KINDS = {"turntable_clip": ["video"], "product_video": ["bria", "video"]}
VIDEO_CHECKS = ("video_readable", "video_duration", "video_alpha")
"""The video branch (bria_dagster/demo/video.py) and the checks of its Bria step."""
DEMO_SKUS = ("SKU-1001", "SKU-1002")
SHOWN_SKU = DEMO_SKUS[0]
DAEMON_SKU = "SKU-1004"

GRAPH_VIEWPORT = (1680, 1200)
"""Wide and tall enough for the UI to draw all nodes of the four groups in full (it draws names
only below 60 % zoom)."""
PAGE_VIEWPORT = (1400, 900)
MAX_PNG_BYTES = 400_000
SCREENSHOTS_ENV = "BRIA_UI_SCREENSHOTS"

AUTOMATION_QUERY = """
query Automation($repo: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repo) {
    __typename
    ... on Sensors { results { name sensorState { status } } }
  }
  schedulesOrError(repositorySelector: $repo) {
    __typename
    ... on Schedules { results { name cronSchedule scheduleState { status } } }
  }
}
"""

ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName description kinds } }"


@dataclass(frozen=True)
class Demo:
    """`dagster dev` on the demo instance, and the environment both were started with."""

    ui: DagsterUI
    env: dict[str, str]
    output: str
    """What the demo command printed."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo_ui")
    home = folder / "dagster_home"
    # The embedded defaults only: no token (never Bria), no storage or ledger URL of the caller.
    # The emulator port is shared by every process of the demo, and free.
    env = {
        "BRIA_DEMO_EMULATOR_PORT": str(free_port()),
        "BRIA_DAGSTER_HOME": str(folder / "bria"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("BRIA_") and n != SCREENSHOTS_ENV]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        filled = subprocess.run(
            [sys.executable, "-m", "bria_dagster.demo.run", "--home", str(home), "--limit", "2"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = filled.stdout + filled.stderr
        assert filled.returncode == 0, output[-3000:]
        with running_dagster_ui(WORKSPACE, home, env=env) as ui:
            yield Demo(ui=ui, env=env, output=output)


def _check_png(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as image:
        assert image.size == size
    assert path.stat().st_size < MAX_PNG_BYTES, f"{path} is {path.stat().st_size} bytes"


def test_the_demo_ran_on_the_local_emulator(demo: Demo):
    assert "Using the local Bria emulator at http://127.0.0.1:" in demo.output
    assert f"{len(DEMO_SKUS)} SKUs: {', '.join(DEMO_SKUS)}" in demo.output


def test_asset_graph_shows_every_asset_in_its_group(demo: Demo, screenshot_dir: Path):
    with chromium_page(*GRAPH_VIEWPORT) as page:
        collapse_navigation(page)
        show_whole_asset_graph(page, demo.ui, (*ASSETS, *VIDEO_GROUPS, *BRAND_ASSETS))

        nodes = page.locator(GRAPH_NODE)
        for group in sorted({*GROUPS.values(), *VIDEO_GROUPS.values(), *BRAND_GROUPS.values()}):
            assert nodes.get_by_text(group, exact=True).first.is_visible(), group
        for name in (*ASSETS, *VIDEO_GROUPS):
            node = nodes.filter(has=page.get_by_text(name, exact=True)).first
            assert node.is_visible(), name
            text = node.text_content() or ""
            if name in VIDEO_GROUPS:  # unpartitioned
                assert "Materialized" in text, f"{name}: {text}"
            else:
                filled = re.search(r"(\d+)% filled", text)
                assert filled and int(filled.group(1)) > 0, f"{name}: {text}"
            if name in CHAIN or name == "product_video":
                count = len(DEMO_CHECKS.get(name, VIDEO_CHECKS))
                assert f"{count} / {count} Passed" in text, f"{name}: {text}"
        for name in BRAND_ASSETS:  # tailored training and generation, each materialized
            node = nodes.filter(has=page.get_by_text(name, exact=True)).first
            assert node.is_visible(), name
            text = node.text_content() or ""
            assert "Materialized" in text and "Never materialized" not in text, f"{name}: {text}"
        shot = screenshot(page, screenshot_dir, "asset-graph")
    _check_png(shot, GRAPH_VIEWPORT)

    shown = {
        "/".join(node["assetKey"]["path"]): node
        for node in demo.ui.graphql(ASSETS_QUERY)["assetNodes"]
    }
    assert {name: node["groupName"] for name, node in shown.items()} == (
        GROUPS | VIDEO_GROUPS | BRAND_GROUPS
    )
    assert all(node["description"] for node in shown.values())
    kinds = {name: sorted(node["kinds"]) for name, node in shown.items()}
    assert kinds == {key: ["bria"] for key in GROUPS | BRAND_GROUPS} | VIDEO_KINDS


def _drawn(page: Page, selector: str) -> Image.Image:
    """An element as the browser drew it on screen."""
    with Image.open(io.BytesIO(page.locator(selector).first.screenshot())) as drawn:
        return drawn.convert("RGB")


def _stored_image(home: Path, asset: str, sku: str) -> Image.Image:
    (path,) = (home / "bria_images" / asset / sku).glob("*.png")
    with Image.open(path) as stored:
        rgba = stored.convert("RGBA")
    on_white = Image.new("RGBA", rgba.size, "white")
    on_white.alpha_composite(rgba)
    return on_white.convert("RGB")


def test_packshot_materialization_shows_its_preview_and_checks(demo: Demo, screenshot_dir: Path):
    with chromium_page(*PAGE_VIEWPORT) as page:
        collapse_navigation(page)
        images = show_preview_images(page, demo.ui, "packshot", partition=SHOWN_SKU)

        # Decoded thumbnails (longest side 256) of the 1000x1000 packshots, one per image.
        assert SHOWN_SKU in [image.alt for image in images]
        assert all((i.natural_width, i.natural_height) == (256, 256) for i in images), images
        # What the browser drew is the stored packshot of that SKU, scaled down.
        drawn = _drawn(page, f'{DIALOG} img[alt="{SHOWN_SKU}"]')
        stored = _stored_image(demo.ui.dagster_home, "packshot", SHOWN_SKU).resize(drawn.size)
        difference = ImageStat.Stat(ImageChops.difference(drawn, stored)).mean
        assert max(difference) < 8, difference
        body = page.locator("body").inner_text()
        assert "Materialized" in body
        assert f"bria_images/packshot/{SHOWN_SKU}/" in body  # where it is stored
        shot = screenshot(page, screenshot_dir, "materialization")
        _check_png(shot, PAGE_VIEWPORT)

        statuses = asset_check_statuses(page, demo.ui, "packshot")
        assert statuses == dict.fromkeys(DEMO_CHECKS["packshot"], "Succeeded")
        assert page.get_by_text("Passed", exact=True).first.is_visible()


def test_tailored_model_and_its_generation_show_their_previews(demo: Demo, screenshot_dir: Path):
    with chromium_page(*PAGE_VIEWPORT) as page:
        collapse_navigation(page)
        # The trained model (materialized by the sensor): its training images and its ids.
        images = show_preview_images(page, demo.ui, "brand_style_model")
        assert len(images) == 5, images
        body = page.locator("body").inner_text()
        for entry in ("bria/tailored_model_id", "bria/tailored_dataset_id", "bria/image_count"):
            assert entry in body, entry
        page.keyboard.press("Escape")  # the screenshot shows the ids and the training time
        page.locator(DIALOG).wait_for(state="hidden")
        shot = screenshot(page, screenshot_dir, "tailored-model")
        _check_png(shot, PAGE_VIEWPORT)

        # The campaign visual generated with it: the stored image, drawn.
        (image,) = show_preview_images(page, demo.ui, "campaign_visual")
        assert image.natural_width == 256 and image.natural_height > 0, image
        body = page.locator("body").inner_text()
        assert "/v2/image/generate/tailored" in body
        assert "bria_images/campaign_visual/" in body
        shot = screenshot(page, screenshot_dir, "tailored-materialization")
        _check_png(shot, PAGE_VIEWPORT)


def test_video_materialization_shows_its_poster_preview_and_checks(
    demo: Demo, screenshot_dir: Path
):
    with chromium_page(*PAGE_VIEWPORT) as page:
        collapse_navigation(page)
        images = show_preview_images(page, demo.ui, "product_video")

        # The poster frame of the transparent 192x144 WebM, at its size (under 256).
        assert [(i.natural_width, i.natural_height) for i in images] == [CLIP_SIZE], images
        (path,) = (demo.ui.dagster_home / "bria_images" / "product_video").glob("*.webm")
        frames, rate = decode_frames(path.read_bytes())  # the stored video plays
        assert len(frames) == CLIP_FRAMES and rate == CLIP_FPS and frames[0].size == CLIP_SIZE
        poster = Image.new("RGBA", CLIP_SIZE, "white")
        poster.alpha_composite(frames[0])
        drawn = _drawn(page, f"{DIALOG} img")
        difference = ImageStat.Stat(
            ImageChops.difference(drawn, poster.convert("RGB").resize(drawn.size))
        ).mean
        assert max(difference) < 8, difference
        body = page.locator("body").inner_text()
        assert "bria_images/product_video/" in body and "vp9" in body
        shot = screenshot(page, screenshot_dir, "video-materialization")
        _check_png(shot, PAGE_VIEWPORT)

        statuses = asset_check_statuses(page, demo.ui, "product_video")
        assert statuses == dict.fromkeys(VIDEO_CHECKS, "Succeeded")


def test_sensor_and_schedule_are_listed(demo: Demo):
    with chromium_page(*PAGE_VIEWPORT) as page:
        page.goto(demo.ui.url("/overview/automation"))
        # Each row fills in as its own query answers; a missing one times out.
        for text in ("bria_results", "Standard sensor", "nightly_refresh"):
            page.get_by_text(text, exact=True).first.wait_for(timeout=60_000)

    repo = {"repositoryName": "__repository__", "repositoryLocationName": LOCATION}
    automation = demo.ui.graphql(AUTOMATION_QUERY, {"repo": repo})
    sensors = {
        s["name"]: s["sensorState"]["status"] for s in automation["sensorsOrError"]["results"]
    }
    schedules = {
        s["name"]: (s["cronSchedule"], s["scheduleState"]["status"])
        for s in automation["schedulesOrError"]["results"]
    }
    assert sensors == {"bria_results": "RUNNING", "bria_brand_results": "RUNNING"}
    assert schedules == {"nightly_refresh": ("0 2 * * *", "STOPPED")}


def test_daemon_ticks_the_result_sensor_and_runs_the_chain(demo: Demo) -> None:
    ui, env = demo.ui, demo.env
    home = ui.dagster_home
    materialize_assets(
        WORKSPACE, "product_photo_requests", home, partitions=[DAEMON_SKU], env=env, timeout_s=180
    )
    deadline = time.monotonic() + 240
    missing: list[str] = list(CHAIN)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while missing and time.monotonic() < deadline:
            missing = [
                name
                for name in CHAIN
                if DAEMON_SKU not in instance.get_materialized_partitions(dg.AssetKey(name))
            ]
            time.sleep(2)
        assert not missing, f"not materialized: {missing}\n{ui.log_tail(60)}"
        photo = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("product_photo"), asset_partitions=[DAEMON_SKU]
            ),
            limit=1,
        ).records[0]
        assert photo.event_log_entry.run_id == ""  # a runless event from the sensor
        # The chain's last asset lands before its run ends (its checks, the run's end events).
        after = dg.RunsFilter(tags={"bria/after": "product_photo"})
        runs = instance.get_runs(filters=after)
        while any(not r.is_finished for r in runs) and time.monotonic() < deadline + 60:
            time.sleep(1)
            runs = instance.get_runs(filters=after)
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [
            r.status for r in runs
        ]

"""The Dagster UI really shows the assets and their image previews, in headless Chromium."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from tests.ui import tiny_workspace as tiny
from tests.ui.conftest import MATERIALIZED_PARTITION
from tests.ui.dagster_ui import DagsterUI, workspace_targets
from tests.ui.ui_pages import (
    GRAPH_NODE,
    PREVIEW_IMAGES,
    screenshot,
    show_asset_graph,
    show_preview_images,
)

pytestmark = pytest.mark.slow

# Colours the tiny definitions paint behind the white ellipse (see tiny_workspace.DEFINITIONS).
GREEN = (30, 160, 60)
BLUE = (30, 60, 200)


def _corner_pixel(page: Page) -> tuple[int, int, int]:
    """The top-left pixel of the first preview image, as the browser drew it on screen."""
    png = page.locator(PREVIEW_IMAGES).first.screenshot()
    with Image.open(io.BytesIO(png)) as drawn:
        red, green, blue = drawn.convert("RGB").getpixel((2, 2))
    return red, green, blue


def _close(actual: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - e) <= 8 for a, e in zip(actual, expected, strict=True))


def test_asset_graph_shows_every_asset(tiny_ui: DagsterUI, page: Page, screenshot_dir: Path):
    show_asset_graph(page, tiny_ui, [tiny.IMAGE_ASSET, tiny.PARTITIONED_ASSET])

    nodes = page.locator(GRAPH_NODE)
    for name in (tiny.IMAGE_ASSET, tiny.PARTITIONED_ASSET):
        assert nodes.get_by_text(name, exact=True).first.is_visible()
    image_node = nodes.filter(has=page.get_by_text(tiny.IMAGE_ASSET, exact=True)).first
    assert "Materialized" in (image_node.text_content() or "")
    variant_node = nodes.filter(has=page.get_by_text(tiny.PARTITIONED_ASSET, exact=True)).first
    assert "50% filled" in (variant_node.text_content() or "")  # 1 of 2 partitions

    shot = screenshot(page, screenshot_dir, "asset-graph")
    with Image.open(shot) as image:
        assert image.size == (1400, 900)


def test_materialization_shows_the_image_preview(
    tiny_ui: DagsterUI, page: Page, screenshot_dir: Path
):
    images = show_preview_images(page, tiny_ui, tiny.IMAGE_ASSET, view="events")

    assert [(i.alt, i.natural_width, i.natural_height) for i in images] == [
        ("preview", *tiny.PREVIEW_SIZE)
    ]
    assert _close(_corner_pixel(page), GREEN)
    assert page.get_by_text("Materialized in run").first.is_visible()
    screenshot(page, screenshot_dir, "asset-materialization")


def test_partition_page_shows_that_partitions_preview(
    tiny_ui: DagsterUI, page: Page, screenshot_dir: Path
):
    images = show_preview_images(
        page, tiny_ui, tiny.PARTITIONED_ASSET, partition=MATERIALIZED_PARTITION
    )

    assert [(i.natural_width, i.natural_height) for i in images] == [tiny.PREVIEW_SIZE]
    assert _close(_corner_pixel(page), BLUE)
    screenshot(page, screenshot_dir, "asset-partition")


def test_workspace_file_maps_to_cli_targets(tmp_path: Path):
    workspace = tiny.write_tiny_workspace(tmp_path)

    (target,) = workspace_targets(workspace)

    assert target.location_name == tiny.LOCATION
    assert target.cli_args == (
        "-f",
        str((tmp_path / "tiny_definitions.py").resolve()),
        "-d",
        str(tmp_path.resolve()),
    )


def test_workspace_without_locations_is_rejected(tmp_path: Path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from: []\n")

    with pytest.raises(ValueError, match="load_from"):
        workspace_targets(workspace)

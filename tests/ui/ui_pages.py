"""Drive Debian's Chromium with Playwright through the Dagster UI pages the README shows.

Routes (Dagster 1.13, read off the running webserver): `/asset-groups` is the global asset
lineage graph; `/assets/<key path>` an asset's overview with its latest materialization's
metadata; `?view=events` its materialization events (newest selected); `?view=partitions&
partition=<key>` one partition's latest materialization.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.ui.dagster_ui import DagsterUI, asset_url_path

CHROMIUM = Path(os.environ.get("BRIA_UI_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium; Playwright never downloads a browser of its own here."""

CHROMIUM_ARGS = (
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
"""Without the background-networking flags Chromium keeps dialling Google's hosts."""

GRAPH_NODE = "svg foreignObject"
"""The asset graph draws each asset as HTML inside an SVG foreignObject."""

PREVIEW_IMAGES = ".dagster-markdown img"
"""Images in Markdown metadata values, as the UI renders them."""


@dataclass(frozen=True)
class RenderedImage:
    """An `<img>` the browser actually decoded."""

    alt: str
    natural_width: int
    natural_height: int


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900, scale: float = 1.0) -> Iterator[Page]:
    """A headless Chromium page that can reach 127.0.0.1 only (other requests are aborted)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"chromium: {CHROMIUM} not found (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            # The UI loads a telemetry script from dagster.io; nothing leaves the machine.
            context.route(_is_remote, lambda route: route.abort())
            yield context.new_page()
        finally:
            browser.close()


def _is_remote(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname
    return host not in (None, "127.0.0.1", "localhost")


def show_asset_graph(
    page: Page,
    ui: DagsterUI,
    asset_names: Sequence[str],
    *,
    path: str = "/asset-groups",
    timeout_ms: float = 90_000,
) -> None:
    """Open the asset graph and wait until every named asset's node shows its live status."""
    page.goto(ui.url(path))
    nodes = page.locator(GRAPH_NODE)
    for name in asset_names:
        nodes.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=timeout_ms)
    # Each node's footer says "Loading..." until the asset's live data arrived.
    page.wait_for_function(
        """(selector) => {
            const nodes = [...document.querySelectorAll(selector)];
            const loading = (n) => (n.textContent || "").includes("Loading...");
            return nodes.length > 0 && !nodes.some(loading);
        }""",
        arg=GRAPH_NODE,
        timeout=timeout_ms,
    )


def asset_page_path(
    asset_key: str, *, view: str | None = None, partition: str | None = None
) -> str:
    """The UI route of an asset's page, its events (`view="events"`) or one partition."""
    query: dict[str, str] = {}
    if partition is not None:
        query = {"view": "partitions", "partition": partition}
    elif view is not None:
        query = {"view": view}
    suffix = "?" + urllib.parse.urlencode(query) if query else ""
    return asset_url_path(asset_key) + suffix


def show_preview_images(
    page: Page,
    ui: DagsterUI,
    asset_key: str,
    *,
    view: str | None = "events",
    partition: str | None = None,
    timeout_ms: float = 60_000,
) -> list[RenderedImage]:
    """Open an asset's materialization and wait until its Markdown preview images are decoded.

    Returns every preview `<img>` on the page that the browser decoded (naturalWidth > 0).
    """
    page.goto(ui.url(asset_page_path(asset_key, view=view, partition=partition)))
    page.wait_for_function(
        """(selector) => [...document.querySelectorAll(selector)]
            .some((img) => img.complete && img.naturalWidth > 0)""",
        arg=PREVIEW_IMAGES,
        timeout=timeout_ms,
    )
    found = page.eval_on_selector_all(
        PREVIEW_IMAGES,
        "imgs => imgs.filter((i) => i.complete && i.naturalWidth > 0)"
        ".map((i) => [i.alt, i.naturalWidth, i.naturalHeight])",
    )
    return [RenderedImage(str(alt), int(w), int(h)) for alt, w, h in found]


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """Save a PNG of the viewport as `folder/name.png` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path

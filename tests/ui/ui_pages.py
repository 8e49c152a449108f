"""Drive Debian's Chromium with Playwright through the Dagster UI pages the README shows.

Routes (Dagster 1.13, read off the running webserver): `/asset-groups` is the global asset
lineage graph; `/assets/<key path>` an asset's overview with its latest materialization's
metadata; `?view=events` its materialization events (newest selected); `?view=partitions&
partition=<key>` one partition's latest materialization; `?view=checks` its asset checks;
`/overview/automation` the sensors and schedules.
"""

from __future__ import annotations

import contextlib
import os
import re
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

SHOW_MARKDOWN = "[Show Markdown]"
"""The link the UI shows instead of a Markdown value of 1,000 characters or more (a data-URI
preview always is): it opens the rendered Markdown in a dialog."""

DIALOG = "[role=dialog]"

GRAPH_CANVAS = 'svg[class*="svgContainer"]'
"""The SVG the asset graph draws in; a double-click on it (not on a node) re-fits the graph."""

GRAPH_SETTINGS = '#zoom-slider-container button:has([aria-label="settings"])'
EXPAND_GROUPS = "Expand all groups"
"""An entry of the graph's settings menu (the gear under the zoom slider). Its shortcut ⌥E
is only listened to once the toolbar has mounted, which a keypress cannot wait for."""

ASSET_LIST_TOGGLE = 'button:not([class*="MainNavigation"]):has([aria-label="panel_show_right"])'
"""The button that hides the asset list beside the graph (the navigation has a look-alike)."""

CHECK_ROWS = '[class*="checkRow"]'
"""One row per check in an asset's Checks tab: the check's name (as `title`) and its status."""

COLLAPSED_NAVIGATION = "window.localStorage.setItem('dagster-nav-collapsed', 'true');"


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


def collapse_navigation(page: Page) -> None:
    """Show the UI's left navigation as icons only, on every page this tab opens from now on."""
    page.add_init_script(COLLAPSED_NAVIGATION)


def show_asset_graph(
    page: Page,
    ui: DagsterUI,
    asset_names: Sequence[str],
    *,
    path: str = "/asset-groups",
    timeout_ms: float = 90_000,
) -> None:
    """Open the asset graph and wait until every named asset's node shows its live status.

    With several asset groups the UI folds each group into one box: use
    `show_whole_asset_graph` to see the assets.
    """
    page.goto(ui.url(path))
    _wait_for_graph_nodes(page, asset_names, timeout_ms)


def show_whole_asset_graph(
    page: Page,
    ui: DagsterUI,
    asset_names: Sequence[str],
    *,
    several_groups: bool = True,
    timeout_ms: float = 90_000,
) -> None:
    """Open the global asset graph with every group unfolded, fitted to the page's width.

    With `several_groups` the UI shows each group folded into one box; the graph's settings
    menu unfolds them all. The asset list beside the graph is then hidden and the graph
    re-fitted to the freed width, because below 60 % zoom the UI draws each node as its
    (shortened) name only: on a page about 1,700 pixels wide every node of a seven-step chain
    is drawn in full. Waits until every named asset's node shows its live status.
    """
    page.goto(ui.url("/asset-groups"))
    page.locator(GRAPH_NODE).first.wait_for(state="visible", timeout=timeout_ms)
    if several_groups:
        page.locator(GRAPH_SETTINGS).click(timeout=timeout_ms)
        page.get_by_role("menuitem").filter(has_text=EXPAND_GROUPS).click(timeout=timeout_ms)
        page.wait_for_url(re.compile(r"[?&]expanded="), timeout=timeout_ms)
        page.keyboard.press("Escape")  # the settings menu would stay over the graph
    page.locator(ASSET_LIST_TOGGLE).click(timeout=timeout_ms)
    page.locator(GRAPH_CANVAS).dispatch_event("dblclick")
    _wait_for_graph_nodes(page, asset_names, timeout_ms)


def _wait_for_graph_nodes(page: Page, asset_names: Sequence[str], timeout_ms: float) -> None:
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
    preview_key: str = "preview",
    timeout_ms: float = 60_000,
) -> list[RenderedImage]:
    """Open an asset's materialization and wait until its Markdown preview images are decoded.

    A small preview is drawn in the metadata table; a large one (1,000 characters or more, as
    any data-URI thumbnail is) sits behind the `[Show Markdown]` link of its `preview_key` row,
    which is clicked, leaving the dialog with the images open. Returns every preview `<img>`
    shown that the browser decoded (naturalWidth > 0).
    """
    page.goto(ui.url(asset_page_path(asset_key, view=view, partition=partition)))
    page.wait_for_function(
        """([selector, key, link]) => {
            const decoded = [...document.querySelectorAll(selector)]
                .some((img) => img.complete && img.naturalWidth > 0);
            const folded = [...document.querySelectorAll("tr")].some((row) =>
                row.cells.length > 1 && row.cells[0].textContent.trim() === key
                && row.cells[1].textContent.includes(link));
            return decoded || folded;
        }""",
        arg=[PREVIEW_IMAGES, preview_key, SHOW_MARKDOWN],
        timeout=timeout_ms,
    )
    scope = PREVIEW_IMAGES
    if not _decoded_images(page, PREVIEW_IMAGES):
        row = page.locator("tr").filter(
            has=page.locator("td").first.get_by_text(preview_key, exact=True)
        )
        row.get_by_text(SHOW_MARKDOWN, exact=True).first.click()
        scope = f"{DIALOG} {PREVIEW_IMAGES}"
        page.wait_for_function(
            """(selector) => [...document.querySelectorAll(selector)]
                .some((img) => img.complete && img.naturalWidth > 0)""",
            arg=scope,
            timeout=timeout_ms,
        )
    return _decoded_images(page, scope)


def _decoded_images(page: Page, selector: str) -> list[RenderedImage]:
    found = page.eval_on_selector_all(
        selector,
        "imgs => imgs.filter((i) => i.complete && i.naturalWidth > 0)"
        ".map((i) => [i.alt, i.naturalWidth, i.naturalHeight])",
    )
    return [RenderedImage(str(alt), int(w), int(h)) for alt, w, h in found]


def asset_check_statuses(
    page: Page, ui: DagsterUI, asset_key: str, *, timeout_ms: float = 60_000
) -> dict[str, str]:
    """Open an asset's Checks tab and return each check's latest status as the UI shows it
    (`Succeeded`, `Failed`, ...), by check name."""
    page.goto(ui.url(asset_page_path(asset_key, view="checks")))
    page.locator(CHECK_ROWS).first.wait_for(state="visible", timeout=timeout_ms)
    read_rows = """(rows) => rows.map((row) => {
        const name = row.querySelector("[title]");
        const lines = row.innerText.split("\\n").map((l) => l.trim()).filter(Boolean);
        return [name ? name.getAttribute("title") : "", lines[lines.length - 1] || ""];
    })"""
    # A row shows only its name until the check's latest execution has loaded.
    page.wait_for_function(
        f"""(selector) => {{
            const rows = ({read_rows})([...document.querySelectorAll(selector)]);
            return rows.length > 0 && rows.every(([name, status]) => name && status !== name);
        }}""",
        arg=CHECK_ROWS,
        timeout=timeout_ms,
    )
    rows = page.eval_on_selector_all(CHECK_ROWS, read_rows)
    return {str(name): str(status) for name, status in rows}


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """Save a PNG of the viewport as `folder/name.png` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path

"""Take the README's Dagster UI screenshots from a real `dagster dev` in headless Chromium.

    python scripts/ui_screenshots.py --workspace workspace.yaml --select '*' \\
        --partition SKU-001 --asset packshot --show-partition SKU-001 --out docs/images/

Materializes `--select` (once per `--partition`) into a fresh DAGSTER_HOME (or uses the instance
given by `--dagster-home`), starts `dagster dev` on the workspace, and saves:
`asset-graph.png` (the lineage graph), `asset-overview.png` (the asset's page) and
`asset-materialization.png` (its latest materialization, or `--show-partition`'s, with the image
preview). Fails if the asset is not in the graph or no preview image is decoded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ui.dagster_ui import materialize_assets, running_dagster_ui  # noqa: E402
from tests.ui.ui_pages import (  # noqa: E402
    asset_page_path,
    chromium_page,
    screenshot,
    show_asset_graph,
    show_preview_images,
    show_whole_asset_graph,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True, help="workspace.yaml to serve")
    parser.add_argument("--asset", required=True, help="asset key to open, parts joined by '/'")
    parser.add_argument("--select", help="asset selection to materialize first (none if unset)")
    parser.add_argument(
        "--partition", action="append", default=[], help="partition to materialize (repeatable)"
    )
    parser.add_argument("--show-partition", help="partition whose materialization to show")
    parser.add_argument(
        "--graph-asset",
        action="append",
        default=[],
        help="asset name the graph must show before the screenshot (default: --asset's name)",
    )
    parser.add_argument("--graph-path", default="/asset-groups", help="UI route of the graph")
    parser.add_argument(
        "--expand-groups",
        action="store_true",
        help="unfold every asset group of the global graph and fit it to the page (several groups)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument(
        "--dagster-home", type=Path, help="existing instance to use (default: a new temp one)"
    )
    parser.add_argument(
        "--multiprocess",
        action="store_true",
        help="materialize with the job's own executor instead of in-process",
    )
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio")
    args = parser.parse_args(argv)
    if not args.workspace.is_file():
        parser.error(f"--workspace: no such file {args.workspace}")
    if args.partition and not args.select:
        parser.error("--partition needs --select")
    return args


def take_screenshots(args: argparse.Namespace, dagster_home: Path) -> list[Path]:
    """Materialize, serve and photograph; return the PNG paths."""
    if args.select:
        print(f"materializing {args.select} in {dagster_home} ...", flush=True)
        materialize_assets(
            args.workspace,
            args.select,
            dagster_home,
            partitions=args.partition,
            in_process=not args.multiprocess,
        )
    graph_assets = args.graph_asset or [args.asset.strip("/").split("/")[-1]]
    shots: list[Path] = []
    with (
        running_dagster_ui(args.workspace, dagster_home) as ui,
        chromium_page(args.width, args.height, args.scale) as page,
    ):
        print(f"dagster dev is up on {ui.base_url}", flush=True)
        if args.expand_groups:
            show_whole_asset_graph(page, ui, graph_assets)
        else:
            show_asset_graph(page, ui, graph_assets, path=args.graph_path)
        shots.append(screenshot(page, args.out, "asset-graph"))

        page.goto(ui.url(asset_page_path(args.asset)))
        page.get_by_text("Definition").first.wait_for(state="visible", timeout=60_000)
        page.wait_for_timeout(2_000)  # let the status and metadata panels fill in
        shots.append(screenshot(page, args.out, "asset-overview"))

        images = show_preview_images(
            page, ui, args.asset, view="events", partition=args.show_partition
        )
        print(f"preview images decoded: {[(i.natural_width, i.natural_height) for i in images]}")
        shots.append(screenshot(page, args.out, "asset-materialization"))
    return shots


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dagster_home is not None:
        shots = take_screenshots(args, args.dagster_home)
    else:
        with tempfile.TemporaryDirectory(prefix="dg-screenshots-") as home:
            shots = take_screenshots(args, Path(home))
    for shot in shots:
        print(f"wrote {shot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

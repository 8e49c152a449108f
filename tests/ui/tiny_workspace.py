"""A two-asset Dagster workspace written to a folder, for testing the UI harness itself.

`tiny_image` returns a MaterializeResult whose `preview` metadata is Markdown embedding a real PNG
(made with Pillow) as a data URI; `tiny_variant` is statically partitioned and downstream of it.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_ASSET = "tiny_image"
PARTITIONED_ASSET = "tiny_variant"
PARTITIONS = ("red", "blue")
GROUP = "tiny"
LOCATION = "tiny_location"
PREVIEW_SIZE = (96, 64)

DEFINITIONS = f'''
"""Tiny definitions for the UI harness tests (written by tests/ui/tiny_workspace.py)."""

import base64
import io

import dagster as dg
from PIL import Image, ImageDraw

COLOURS = {{"red": (200, 30, 30), "blue": (30, 60, 200), "green": (30, 160, 60)}}


def preview(colour: str) -> dg.MetadataValue:
    image = Image.new("RGB", {PREVIEW_SIZE!r}, COLOURS[colour])
    ImageDraw.Draw(image).ellipse((16, 8, 80, 56), fill=(250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![preview](data:image/png;base64,{{data}})")


@dg.asset(group_name={GROUP!r}, kinds={{"python"}}, description="A tiny generated image.")
def {IMAGE_ASSET}() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={{"preview": preview("green")}})


@dg.asset(
    group_name={GROUP!r},
    kinds={{"python"}},
    deps=[{IMAGE_ASSET}],
    partitions_def=dg.StaticPartitionsDefinition({list(PARTITIONS)!r}),
    description="One tiny image per colour.",
)
def {PARTITIONED_ASSET}(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={{"preview": preview(context.partition_key)}})


defs = dg.Definitions(assets=[{IMAGE_ASSET}, {PARTITIONED_ASSET}])
'''

WORKSPACE = f"""load_from:
  - python_file:
      relative_path: tiny_definitions.py
      location_name: {LOCATION}
"""


def write_tiny_workspace(folder: Path) -> Path:
    """Write the definitions and `workspace.yaml` into `folder`; return the workspace file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny_definitions.py").write_text(DEFINITIONS.lstrip())
    workspace = folder / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    return workspace

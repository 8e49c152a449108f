"""The code location of the demo's defs folder (``bria_dagster/demo/defs``), for ``dg`` and
``dagster dev -m bria_dagster.demo.defs_location``: the pipeline of ``definitions.py`` declared
with :class:`~bria_dagster.components.BriaAssetsComponent`. Loads from an installed package
too (no ``pyproject.toml`` needed)."""

from pathlib import Path

import dagster as dg

import bria_dagster
from bria_dagster.demo import defs as demo_defs


@dg.definitions
def defs() -> dg.Definitions:
    """Every definition of the demo's defs folder."""
    root = Path(bria_dagster.__file__).resolve().parents[1]
    return dg.ComponentTree.from_module(defs_module=demo_defs, project_root=root).build_defs()

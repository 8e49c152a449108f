"""The ``dg`` command line on the component, each command as its own process: the demo's defs
folder passes ``dg check defs`` and lists its definitions; ``dg scaffold defs`` writes a
component that ``dg check defs`` accepts, and a typo in it fails the check naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPONENT = "bria_dagster.components.BriaAssetsComponent"
DEMO_ASSETS = {
    "product_photo_requests",
    "product_photo",
    "cutout",
    "packshot",
    "lifestyle_shot",
    "ad_formats",
    "ad",
}

pytestmark = pytest.mark.slow


def _dg(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``dg`` of this environment (its venv active, as a user's shell would have it)."""
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "VIRTUAL_ENV": sys.prefix,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "NO_COLOR": "1",
    }
    for name in ("BRIA_BASE_URL", "BRIA_STORAGE_URI", "BRIA_LEDGER_URL"):
        env.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run(
        [str(bin_dir / "dg"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_dg_check_and_list_accept_the_demo_defs_folder(tmp_path: Path) -> None:
    checked = _dg("check", "defs", cwd=REPO, home=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed = _dg("list", "defs", "--json", cwd=REPO, home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assert {asset["asset_key"] for asset in defs["assets"]} == DEMO_ASSETS
    assert [sensor["name"] for sensor in defs["sensors"]] == ["bria_results"]
    checks = {check["key"] for check in defs["asset_checks"]}
    assert {"cutout:image_alpha", "ad_formats:image_dimensions", "ad:image_readable"} <= checks
    assert {r["name"] for r in defs["resources"]} == {
        "bria",
        "bria_storage",
        "bria_ledger",
        "bria_io_manager",
    }


def _project(root: Path, name: str) -> Path:
    """A dg project: dg.toml and a package whose definitions.py loads its defs folder (as
    ``create-dagster`` makes, without the src/ folder, which would need installing). Returns
    the defs folder."""
    (root / "dg.toml").write_text(
        textwrap.dedent(
            f"""\
            directory_type = "project"

            [project]
            root_module = "{name}"
            registry_modules = ["bria_dagster.components"]
            """
        )
    )
    package = root / name
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )
    return package / "defs"


def test_dg_scaffold_writes_a_component_dg_check_accepts(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    defs = _project(root, "scaffolded_bria")
    home = tmp_path / "home"

    components = _dg("list", "components", cwd=root, home=home)
    assert COMPONENT in components.stdout, components.stdout + components.stderr

    scaffold = _dg(
        "scaffold",
        "defs",
        COMPONENT,
        "photos",
        "--family",
        "image",
        "--operation",
        "generate",
        "--mode",
        "deferred",
        cwd=root,
        home=home,
    )
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    written = (defs / "photos" / "defs.yaml").read_text()
    assert f"type: {COMPONENT}" in written and "mode: deferred" in written
    assert "prompt: '{{ row.prompt }}'" in written
    assert (defs / "photos" / "items.csv").read_text().startswith("key,prompt\n")

    checked = _dg("check", "defs", cwd=root, home=home)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = _dg("list", "defs", "--json", cwd=root, home=home)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert {a["asset_key"] for a in found["assets"]} == {"photos", "photos_requests"}
    assert [s["name"] for s in found["sensors"]] == ["bria_results"]

    (defs / "photos" / "defs.yaml").write_text(written.replace("prompt:", "promt:"))
    broken = _dg("check", "defs", cwd=root, home=home)
    assert broken.returncode != 0
    assert "steps[0].request.promt" in broken.stdout + broken.stderr

"""Type checkers see the installed package: a user's project outside the repository, checked
by mypy with no MYPYPATH, gets the package's own types (py.typed) through the editable install's
path entry, so a misspelt field or a bad literal is caught before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import bria_dagster

GOOD = """
from bria_dagster.client.types.editing import ExpandRequest
from bria_dagster.client.types.generation import GenerateImageRequest

request = GenerateImageRequest(prompt="a mug on a desk", seed=1)
expand = ExpandRequest(image="https://example.com/a.png", aspect_ratio="16:9")
"""

BAD = """
from bria_dagster.client.types.editing import ExpandRequest
from bria_dagster.client.types.generation import GenerateImageRequest

request = GenerateImageRequest(promt="a mug on a desk")
expand = ExpandRequest(image="https://example.com/a.png", aspect_ratio="7:3")
"""


def test_mypy_sees_the_installed_package(tmp_path: Path) -> None:
    project = tmp_path / "user_project"
    project.mkdir()
    (project / "good.py").write_text(textwrap.dedent(GOOD))
    (project / "bad.py").write_text(textwrap.dedent(BAD))
    # The check means something only if mypy finds the package through the install.
    assert not Path(bria_dagster.__file__).resolve().is_relative_to(project.resolve())
    env = {k: v for k, v in os.environ.items() if k not in {"MYPYPATH", "PYTHONPATH"}}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "good.py", "bad.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert not [line for line in errors if line.startswith("good.py")], result.stdout
    assert "import-not-found" not in result.stdout
    assert "import-untyped" not in result.stdout
    assert any('"promt"' in line for line in errors if line.startswith("bad.py:5:")), errors
    assert any(
        '"aspect_ratio"' in line and "7:3" in line
        for line in errors
        if line.startswith("bad.py:6:")
    ), errors

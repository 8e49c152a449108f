"""Fixtures for the browser tests: a materialized tiny workspace served by `dagster dev`.

Screenshots go to the folder named by $BRIA_UI_SCREENSHOTS (a temporary folder if unset).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.ui import tiny_workspace as tiny
from tests.ui.dagster_ui import DagsterUI, materialize_assets, running_dagster_ui
from tests.ui.ui_pages import chromium_page

MATERIALIZED_PARTITION = "blue"


@pytest.fixture(scope="module")
def tiny_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """`dagster dev` on the tiny workspace, after one run of each asset (one partition)."""
    folder = tmp_path_factory.mktemp("tiny_ui")
    workspace = tiny.write_tiny_workspace(folder / "project")
    home = folder / "dagster_home"
    materialize_assets(workspace, tiny.IMAGE_ASSET, home)
    materialize_assets(workspace, tiny.PARTITIONED_ASSET, home, partitions=[MATERIALIZED_PARTITION])
    with running_dagster_ui(workspace, home) as ui:
        yield ui
    # The harness must leave nothing behind: the whole process group is gone.
    with pytest.raises(ProcessLookupError):
        os.killpg(ui.process.pid, 0)


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page() as page:
        yield page


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("BRIA_UI_SCREENSHOTS")
    return Path(configured) if configured else tmp_path / "screenshots"

"""Fixtures for the browser tests: a headless Chromium page and the screenshot folder.

Screenshots go to the folder named by $BRIA_UI_SCREENSHOTS (a temporary folder if unset).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.ui.ui_pages import chromium_page


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page() as page:
        yield page


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("BRIA_UI_SCREENSHOTS")
    return Path(configured) if configured else tmp_path / "screenshots"

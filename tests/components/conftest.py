"""Fixtures for the component: the fast emulator and the real Dagster instance of tests/dagster,
and the environment a component's ``{{ env.* }}`` values read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dagster.conftest import api_token, instance  # noqa: F401
from tests.e2e.conftest import FAST_CLIENT, bria_emulator_config  # noqa: F401  (its emulator)

FAST_BRIA = {k: v for k, v in FAST_CLIENT.items() if k != "rate_limit_backend"}
"""BriaResource fields for the fast emulator (the limiter comes from the environment)."""


@pytest.fixture
def bria_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    emulator: Any,
    api_token: str,  # noqa: F811
) -> dict[str, str]:
    """The variables a component's resources read: the emulator, a memory limiter, storage and
    ledger in the test's folder (BRIA_API_TOKEN is set by ``api_token``)."""
    values = {
        "BRIA_BASE_URL": emulator.base_url,
        "BRIA_RATE_LIMIT_BACKEND": "memory",
        "BRIA_STORAGE_URI": (tmp_path / "images").as_uri(),
        "BRIA_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values

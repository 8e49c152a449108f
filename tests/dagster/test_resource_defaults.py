"""BriaResource takes its defaults from ClientSettings: one place says what the default is."""

from __future__ import annotations

import pytest

from bria_dagster.client import ClientSettings
from bria_dagster.resources import BriaResource

SHARED = sorted(set(BriaResource.model_fields) & set(ClientSettings.model_fields))


def test_every_shared_field_defaults_to_the_client_settings_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRIA_API_TOKEN", "token-from-env")
    monkeypatch.setenv("BRIA_BASE_URL", "http://127.0.0.1:9")
    assert len(SHARED) >= 15
    made = BriaResource().client_settings()
    plain = ClientSettings()
    for name in SHARED:
        assert getattr(made, name) == getattr(plain, name), name


def test_a_field_set_on_the_resource_reaches_the_client_settings() -> None:
    settings = BriaResource(
        api_token="t", max_attempts=2, poll_interval_s=0.25, plan="pro"
    ).client_settings()
    assert (settings.max_attempts, settings.poll_interval_s, settings.plan) == (2, 0.25, "pro")

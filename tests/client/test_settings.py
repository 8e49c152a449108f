"""ClientSettings: environment defaults, plans and headroom, validation, a missing token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pydantic
import pytest

from bria_dagster.client import AsyncBriaClient, BriaClient, BriaInputError, ClientSettings
from bria_dagster.client.core import USER_AGENT


def test_environment_supplies_token_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIA_API_TOKEN", "tok-from-env")
    monkeypatch.setenv("BRIA_BASE_URL", "http://127.0.0.1:9/")
    settings = ClientSettings()
    assert settings.require_token() == "tok-from-env"
    assert settings.base_url == "http://127.0.0.1:9"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BRIA_API_TOKEN", raising=False)
    monkeypatch.delenv("BRIA_BASE_URL", raising=False)
    monkeypatch.setenv("BRIA_DAGSTER_HOME", str(tmp_path))
    settings = ClientSettings()
    assert settings.api_token is None
    assert settings.base_url == "https://engine.prod.bria-api.com"
    assert settings.rate_limit_backend == f"sqlite:///{tmp_path.resolve()}/ratelimit.sqlite"
    assert (settings.connect_timeout_s, settings.read_timeout_s) == (10, 30)
    assert (settings.write_timeout_s, settings.pool_timeout_s) == (30, 10)
    assert settings.sync_read_timeout_s > settings.read_timeout_s
    assert settings.download_max_bytes == 512 * 1024 * 1024


@pytest.mark.parametrize(
    ("plan", "expected"),
    [("free", 9), ("starter", 54), ("payg", 54), ("pro", 900), ("enterprise", 900)],
)
def test_plans_leave_ten_percent_headroom(plan: str, expected: int) -> None:
    settings = ClientSettings.model_validate({"api_token": "t", "plan": plan})
    assert settings.effective_requests_per_window == expected


def test_explicit_rate_overrides_the_plan() -> None:
    settings = ClientSettings.model_validate(
        {"api_token": "t", "plan": "free", "requests_per_minute": 200}
    )
    assert settings.effective_requests_per_window == 180
    tiny = ClientSettings.model_validate(
        {"api_token": "t", "requests_per_minute": 1, "rate_limit_fraction": 0.5}
    )
    assert tiny.effective_requests_per_window == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_url", "engine.prod.bria-api.com"),
        ("rate_limit_backend", "mongodb://x"),
        ("rate_limit_backend", "sqlite://relative-without-third-slash.db"),
        ("rate_limit_fraction", 1.5),
        ("plan", "gold"),
        ("read_timeout_s", 0),
        ("max_attempts", 0),
    ],
)
def test_bad_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ClientSettings.model_validate({"api_token": "t", field: value})
    assert field in str(caught.value)


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no HTTP call expected, got {request.method} {request.url}")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_missing_token_fails_before_any_call(
    monkeypatch: pytest.MonkeyPatch, blank: str | None
) -> None:
    monkeypatch.delenv("BRIA_API_TOKEN", raising=False)
    with pytest.raises(BriaInputError) as caught:
        BriaClient(api_token=blank, transport=httpx.MockTransport(_never_called))
    assert caught.value.field == "api_token"
    with pytest.raises(BriaInputError, match="api_token"):
        AsyncBriaClient(api_token=blank)


def test_client_keyword_overrides_apply_on_top_of_settings() -> None:
    base = ClientSettings.model_validate(
        {"api_token": "tok-a", "plan": "free", "rate_limit_backend": "memory"}
    )
    with BriaClient(base, plan="pro") as client:
        assert client.settings.plan == "pro"
        assert client.settings.require_token() == "tok-a"


def test_engine_headers_carry_token_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"request_id": "r1", "status_url": "x"})

    transport = httpx.MockTransport(answer)
    with BriaClient(api_token="tok-h", rate_limit_backend="memory", transport=transport) as c:
        c.submit("image/generate", {"prompt": "x"})
    assert seen[0].headers["api_token"] == "tok-h"
    assert seen[0].headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("bria-dagster/") and USER_AGENT.endswith("(python; httpx)")
    assert str(seen[0].url) == "https://engine.prod.bria-api.com/v2/image/generate"


@pytest.mark.parametrize("bad", ["tok with space", "tok-\u00e9t\u00e9", "tok\x00nul"])
def test_unusable_tokens_are_refused_without_being_quoted(bad: str) -> None:
    with pytest.raises(BriaInputError) as caught:
        BriaClient(api_token=bad, rate_limit_backend="memory")
    assert caught.value.field == "api_token"
    assert bad not in str(caught.value)


def test_surrounding_whitespace_is_stripped_from_the_token() -> None:
    settings = ClientSettings.model_validate({"api_token": "  tok-abc\n"})
    assert settings.require_token() == "tok-abc"


def test_rate_limit_backend_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BRIA_RATE_LIMIT_BACKEND", "redis://127.0.0.1:6379/0")
    assert ClientSettings().rate_limit_backend == "redis://127.0.0.1:6379/0"
    # An argument still wins; a bad value is refused naming the field.
    assert ClientSettings(rate_limit_backend="memory").rate_limit_backend == "memory"
    monkeypatch.setenv("BRIA_RATE_LIMIT_BACKEND", "mongodb://x")
    with pytest.raises(pydantic.ValidationError, match="rate_limit_backend"):
        ClientSettings()
    # Blank counts as unset.
    monkeypatch.setenv("BRIA_RATE_LIMIT_BACKEND", " ")
    monkeypatch.setenv("BRIA_DAGSTER_HOME", str(tmp_path))
    assert ClientSettings().rate_limit_backend.endswith("/ratelimit.sqlite")

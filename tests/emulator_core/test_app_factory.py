"""The default app factory loads the operations package lazily; provider routes get the guard."""

from __future__ import annotations

import sys
import types
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bria_dagster.emulator import EmulatorConfig, EmulatorServer
from bria_dagster.emulator.app import OPERATIONS_MODULE, default_operations

from .conftest import FAST
from .helpers import AUTH, EDIT, EDIT_PATH, b64, png_bytes


def _provider(state: Any) -> list[BaseRoute]:
    async def projects(request: Request) -> Response:
        state.extensions["projects"] = state.extensions.get("projects", 0) + 1
        return JSONResponse([], status_code=200)

    async def upload(request: Request) -> Response:
        return Response(status_code=204)

    return [
        Route("/v1/tailored-gen/projects", projects, methods=["GET"]),
        Route("/uploads/{key}", upload, methods=["POST"]),
    ]


@pytest.fixture
def fake_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType(OPERATIONS_MODULE)
    module.ALL_OPERATIONS = [EDIT]  # type: ignore[attr-defined]
    module.ROUTE_PROVIDERS = [_provider]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, OPERATIONS_MODULE, module)


@pytest.mark.usefixtures("fake_operations")
def test_default_operations_and_route_providers() -> None:
    assert default_operations() == ([EDIT], [_provider])
    with EmulatorServer(EmulatorConfig.model_validate({**FAST, "rpm": 1})) as emulator:
        url = emulator.base_url
        submitted = httpx.post(f"{url}{EDIT_PATH}", json={"image": b64(png_bytes())}, headers=AUTH)
        assert submitted.status_code == 202
        assert httpx.get(f"{url}/v1/tailored-gen/projects").status_code == 401
        assert httpx.get(f"{url}/v1/tailored-gen/projects", headers=AUTH).json() == []
        assert httpx.get(f"{url}/v1/tailored-gen/projects", headers=AUTH).status_code == 429
        assert httpx.post(f"{url}/uploads/abc").status_code == 204  # presigned-style: no token
        assert emulator.state.extensions == {"projects": 1}
        assert emulator.stats().requests["GET /v1/tailored-gen/projects"] == 3


def test_missing_operations_package_serves_the_core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, OPERATIONS_MODULE, None)  # makes the import fail
    assert default_operations() == ([], [])

"""Auth, Bria's error envelope, unknown routes and bad bodies, over real HTTP."""

from __future__ import annotations

import httpx

from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, b64, png_bytes


def _is_envelope(body: dict[str, object], code: int) -> bool:
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message", "details"}
    assert isinstance(body["request_id"], str) and len(body["request_id"]) == 32
    return bool(error["code"] == code)


def test_missing_token_is_401_in_bria_envelope(emulator: EmulatorServer) -> None:
    for headers in ({}, {"api_token": ""}):
        response = httpx.post(f"{emulator.base_url}{EDIT_PATH}", json={}, headers=headers)
        assert response.status_code == 401
        assert _is_envelope(response.json(), 401)
        assert "api_token" in response.json()["error"]["details"]
    status = httpx.get(f"{emulator.base_url}/v2/status/abc")
    assert status.status_code == 401
    assert emulator.stats().submits == {}


def test_forbidden_token_is_403_and_other_tokens_pass(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(forbidden_token="revoked-token")
    url = f"{emulator.base_url}{EDIT_PATH}"
    body = {"image": b64(png_bytes())}
    denied = httpx.post(url, json=body, headers={"api_token": "revoked-token"})
    assert denied.status_code == 403
    assert _is_envelope(denied.json(), 403)
    accepted = httpx.post(url, json=body, headers={"api_token": "any-other-token"})
    assert accepted.status_code == 202
    assert "revoked-token" not in repr(emulator.config)


def test_unknown_route_is_a_bare_404(client: httpx.Client) -> None:
    response = client.post("/v2/image/edit/no_such_thing", json={})
    assert response.status_code == 404
    assert "error" not in response.text


def test_malformed_json_and_non_objects_are_400(client: httpx.Client) -> None:
    bad = client.post(EDIT_PATH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert _is_envelope(bad.json(), 400)
    assert "JSON" in bad.json()["error"]["message"]
    array = client.post(EDIT_PATH, json=[1, 2])
    assert array.status_code == 400
    assert "object" in array.json()["error"]["details"]


def test_validation_error_names_the_field(client: httpx.Client, emulator: EmulatorServer) -> None:
    response = client.post(EDIT_PATH, json={"preserve_alpha": True})
    assert response.status_code == 400
    assert response.json()["error"]["details"].startswith("image:")
    bad_sync = client.post(EDIT_PATH, json={"image": "x", "sync": "yes"})
    assert bad_sync.json()["error"]["details"].startswith("sync:")
    bad_hook = client.post(EDIT_PATH, json={"image": "x", "webhook_url": "ftp://x"})
    assert bad_hook.json()["error"]["details"].startswith("webhook_url:")
    assert emulator.stats().submits == {}


def test_token_is_not_kept_in_job_reprs(client: httpx.Client, emulator: EmulatorServer) -> None:
    submitted = client.post(
        EDIT_PATH, json={"image": b64(png_bytes()), "webhook_url": "http://127.0.0.1:9/hook"}
    )
    job = emulator.state.jobs.get(submitted.json()["request_id"])
    assert job is not None
    assert AUTH["api_token"] not in repr(job)
    assert AUTH["api_token"] not in emulator.stats().model_dump_json()

"""What the client sends, what it refuses before sending, and how it reads every answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bria_dagster.client import (
    AuthenticationError,
    BriaAPIError,
    BriaClient,
    BriaInputError,
    ConflictError,
    JobFailedError,
    NotFoundError,
    ServerError,
    ValidationError,
)
from bria_dagster.client.core import budget_of

from .conftest import FAST


def client_answering(token: str, response: httpx.Response) -> tuple[BriaClient, list[Any]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return response

    settings = {**FAST, "max_attempts": 1}
    return BriaClient(api_token=token, transport=httpx.MockTransport(handler), **settings), sent


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "code"),
    [
        (
            400,
            {"error": {"code": 400, "message": "Bad prompt", "details": "too long"}},
            ValidationError,
            "Bad prompt",
            400,
        ),
        (401, {"error": {"code": 401, "message": "Unauthorized"}}, AuthenticationError, None, 401),
        (
            403,
            "Quota exceeded: Free users can make 1000 requests",
            AuthenticationError,
            "Quota",
            403,
        ),
        (404, {"status": "NOT_FOUND"}, NotFoundError, "not found", 404),
        (
            409,
            {"error": {"code": "TRAINING_RUNNING", "message": "busy"}},
            ConflictError,
            None,
            None,
        ),
        (
            412,
            {"error": {"code": 412, "message": "dataset not completed"}},
            ConflictError,
            None,
            412,
        ),
        (413, b"", ValidationError, "Request Entity Too Large", 413),
        (415, {"detail": "unsupported media"}, ValidationError, "unsupported media", 415),
        (
            460,
            {"error": {"code": 460, "message": "Failed to download image"}},
            ValidationError,
            None,
            460,
        ),
        (405, b"<html><body>Method Not Allowed</body></html>", BriaAPIError, None, 405),
        (500, b"<html>oops</html>", ServerError, "Internal Server Error", 500),
    ],
)
def test_http_errors_become_typed_errors(
    token: str, status: int, body: Any, kind: type, message: str | None, code: Any
) -> None:
    if isinstance(body, bytes):
        response = httpx.Response(status, content=body)
    else:
        response = httpx.Response(status, json=body)
    client, _ = client_answering(token, response)
    with client, pytest.raises(BriaAPIError) as caught:
        client.request("GET", "/v1/anything")
    error = caught.value
    assert type(error) is kind
    assert error.status_code == status
    assert error.endpoint == "/v1/anything"
    if message:
        assert message in str(error)
    if code is not None:
        assert error.code == code
    if isinstance(body, bytes) and body:
        assert error.details and body.decode()[:20] in error.details


def test_envelope_fields_are_kept(token: str) -> None:
    body = {
        "error": {"code": 422, "message": "Content moderation", "details": "422 prompt flagged"},
        "request_id": "req-77",
    }
    client, _ = client_answering(token, httpx.Response(422, json=body))
    with client, pytest.raises(ValidationError) as caught:
        client.submit("image/generate", {"prompt": "x"})
    error = caught.value
    assert (error.code, error.message, error.request_id) == (422, "Content moderation", "req-77")
    assert error.details == "422 prompt flagged"
    assert error.is_moderation
    assert "request_id=req-77" in str(error)


def test_a_submit_answer_without_request_id_is_a_server_error(token: str) -> None:
    client, sent = client_answering(token, httpx.Response(202, json={"status_url": "x"}))
    with client, pytest.raises(ServerError, match="request_id"):
        client.submit("image/generate", {"prompt": "x"})
    assert len(sent) == 1


def test_a_non_json_status_answer_is_a_server_error(token: str) -> None:
    client, _ = client_answering(token, httpx.Response(200, text="<html>portal</html>"))
    with client, pytest.raises(ServerError, match="not a JSON object"):
        client.status("r-1")


def test_failed_sync_run_raises_job_failed(token: str) -> None:
    body = {
        "request_id": "r-9",
        "status": "ERROR",
        "error": {"code": "VALIDATION_ERROR", "message": "bad"},
    }
    client, _ = client_answering(token, httpx.Response(200, json=body))
    with client, pytest.raises(JobFailedError) as caught:
        client.run("image/edit/remove_background", {"image": "https://x/y.png"})
    assert (caught.value.request_id, caught.value.code) == ("r-9", "VALIDATION_ERROR")


def test_submit_body_drops_nones_forces_sync_false_and_adds_webhook(token: str) -> None:
    client, sent = client_answering(token, httpx.Response(202, json={"request_id": "r"}))
    with client:
        client.submit(
            "/v2/image/generate",
            {"prompt": "cat", "seed": None, "aspect_ratio": "1:1"},
            webhook_url="https://hooks.example/bria",
        )
    body = json.loads(sent[0].content)
    assert body == {
        "prompt": "cat",
        "aspect_ratio": "1:1",
        "sync": False,
        "webhook_url": "https://hooks.example/bria",
    }
    assert sent[0].headers["content-type"] == "application/json"


def test_run_uses_sync_true_with_the_long_read_timeout(token: str) -> None:
    answer = {"request_id": "r", "result": {"image_url": "https://cdn/x.png", "seed": 5}}
    client, sent = client_answering(token, httpx.Response(200, json=answer))
    with client:
        result = client.run("image/edit/remove_background", {"image": "https://x/y.png"})
    assert result.image_url == "https://cdn/x.png" and result.seed == 5
    assert json.loads(sent[0].content)["sync"] is True
    assert sent[0].extensions["timeout"]["read"] == client.settings.sync_read_timeout_s


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.submit("image/generate", {"prompt": "x", "sync": True}), "sync"),
        (lambda c: c.run("image/generate", {"prompt": "x", "sync": False}), "sync"),
        (lambda c: c.submit("", {"prompt": "x"}), "endpoint"),
        (lambda c: c.submit("https://evil/v2/x", {}), "endpoint"),
        (lambda c: c.submit(42, {}), "endpoint"),
        (lambda c: c.submit("image/generate", ["prompt"]), "payload"),
        (lambda c: c.submit("image/generate", {1: "x"}), "payload"),
        (lambda c: c.submit("image/generate", {"prompt": object()}), "payload.prompt"),
        (lambda c: c.submit("image/generate", {"steps": float("nan")}), "payload.steps"),
        (lambda c: c.submit("image/generate", {}, webhook_url="ftp://x"), "webhook_url"),
        (lambda c: c.status("../../v1/secret"), "request_id"),
        (lambda c: c.status(""), "request_id"),
        (lambda c: c.wait("r-1", timeout=0), "timeout"),
        (lambda c: c.request("FETCH", "/v1/x"), "method"),
        (lambda c: c.request("GET", "/v1/x?y=1"), "path"),
        (lambda c: c.request("POST", "/v1/x", json={}, files={"f": b"x"}), "json"),
        (lambda c: c.download("file:///etc/passwd", "/tmp/x"), "url"),
        (lambda c: c.download("https://cdn/x.png", "/tmp/x", max_bytes=0), "max_bytes"),
        (lambda c: c.download("https://cdn/x.png", 12), "sink"),
    ],
)
def test_bad_input_is_refused_before_any_http_call(token: str, call: Any, field: str) -> None:
    client, sent = client_answering(token, httpx.Response(202, json={"request_id": "r"}))
    with client, pytest.raises(BriaInputError) as caught:
        call(client)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert sent == []


def test_paths_with_ids_share_one_budget() -> None:
    assert budget_of("/v2/image/generate") == "/v2/image/generate"
    assert budget_of("/v1/tailored-gen/projects/7") == "/v1/tailored-gen/projects/{id}"
    assert budget_of("/v1/tailored-gen/projects/8") == budget_of("/v1/tailored-gen/projects/7")
    assert budget_of("/v1/text-to-image/base/3.2") == "/v1/text-to-image/base/{id}"


def test_usage_counts_calls_by_budget(token: str) -> None:
    client, _ = client_answering(token, httpx.Response(200, json={}))
    with client:
        client.request("GET", "/v1/tailored-gen/projects/7")
        client.request("GET", "/v1/tailored-gen/projects/8")
        assert client.usage().calls == {"/v1/tailored-gen/projects/{id}": 2}


def test_redirects_from_the_engine_are_errors_not_followed(token: str) -> None:
    moved = httpx.Response(301, headers={"Location": "https://elsewhere.example/v2/x?sig=1"})
    client, sent = client_answering(token, moved)
    with client, pytest.raises(BriaAPIError, match=r"elsewhere\.example/v2/x\b") as caught:
        client.submit("image/generate", {"prompt": "x"})
    assert caught.value.status_code == 301
    assert "sig=" not in str(caught.value)
    assert len(sent) == 1

"""The request log: what clients sent, exactly, without their token; bounded; filterable."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from bria_dagster.emulator import EmulatorServer, FaultRule
from bria_dagster.emulator.ratelimit import token_hash
from bria_dagster.emulator.requestlog import DRAIN_LIMIT

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, GENERATE_PATH, TOKEN, b64, png_bytes


def test_entries_hold_exact_bodies_headers_and_answers(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    raw = b'{"prompt":  "a cat", "sync": false}'
    answer = client.post(
        GENERATE_PATH, content=raw, headers={"content-type": "application/json", "x-trace": "7"}
    )
    assert answer.status_code == 202
    client.get("/v2/status/nope", params={"a": "1"})
    httpx.post(f"{emulator.base_url}{GENERATE_PATH}", content=b"\x00\xffnot json")
    post, poll, anonymous = emulator.requests()
    assert (post.method, post.path, post.status) == ("POST", GENERATE_PATH, 202)
    assert post.body == raw and post.body_size == len(raw) and not post.body_truncated
    assert post.json == {"prompt": "a cat", "sync": False}
    assert post.headers["x-trace"] == "7" and post.headers["content-type"] == "application/json"
    assert "api_token" not in post.headers and post.token == token_hash(TOKEN)
    assert (poll.path, poll.query, poll.status, poll.body) == ("/v2/status/nope", "a=1", 404, b"")
    # Answered 401 before the handler read the body: the body is still recorded, token None.
    assert anonymous.status == 401 and anonymous.token is None
    assert anonymous.body == b"\x00\xffnot json" and anonymous.json is None
    assert post.seq < poll.seq < anonymous.seq and post.time <= poll.time <= anonymous.time


def test_the_http_endpoint_filters_and_encodes(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    client.post(GENERATE_PATH, json={"prompt": "a"})
    client.post(EDIT_PATH, json={"image": b64(png_bytes())})
    client.get("/v2/status/x")
    first = client.get("/_emulator/requests").json()
    assert [r["path"] for r in first["requests"]] == [GENERATE_PATH, EDIT_PATH, "/v2/status/x"]
    assert first["last_seq"] == first["requests"][-1]["seq"]
    gen = first["requests"][0]
    assert gen["json"] == {"prompt": "a"}
    assert json.loads(base64.b64decode(gen["body_b64"])) == {"prompt": "a"}
    posts = client.get("/_emulator/requests", params={"method": "post", "path": "/v2/image/*"})
    assert [r["path"] for r in posts.json()["requests"]] == [GENERATE_PATH, EDIT_PATH]
    since = client.get("/_emulator/requests", params={"since": gen["seq"]}).json()
    assert [r["path"] for r in since["requests"]] == [EDIT_PATH, "/v2/status/x"]
    assert [r.path for r in emulator.requests(path="/v2/status/*")] == ["/v2/status/x"]
    bad = client.get("/_emulator/requests", params={"since": "soon"})
    assert bad.status_code == 400 and "since" in bad.json()["error"]["details"]
    client.post("/_emulator/reset")
    assert client.get("/_emulator/requests").json()["requests"] == []
    client.get("/v2/status/y")
    assert emulator.requests()[0].seq > first["last_seq"]  # numbers go on across a reset


def test_a_large_body_answered_early_is_not_read_in_full(emulator: EmulatorServer) -> None:
    big = b"x" * (3 * DRAIN_LIMIT)
    answer = httpx.post(f"{emulator.base_url}{GENERATE_PATH}", content=big)  # no token: 401
    assert answer.status_code == 401
    [entry] = emulator.requests()
    assert entry.body_truncated and DRAIN_LIMIT <= entry.body_size < len(big)


def test_the_token_never_appears_in_the_log(client: httpx.Client, emulator: EmulatorServer) -> None:
    client.post(GENERATE_PATH, json={"prompt": "a"})
    client.get("/v2/status/x")
    httpx.get(f"{emulator.base_url}/files/missing.png", headers=AUTH)
    logged = client.get("/_emulator/requests").text
    assert len(emulator.requests()) == 3
    assert TOKEN not in logged
    assert all(TOKEN not in repr(entry) for entry in emulator.requests())


def test_dropped_connections_and_faults_are_logged(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(
        faults=[FaultRule(kind="drop_after", count=1), FaultRule(kind="server_error", count=1)]
    )
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(GENERATE_PATH, json={"prompt": "dropped"})
    client.post(GENERATE_PATH, json={"prompt": "refused"})
    dropped, refused = emulator.requests(method="POST")
    assert dropped.json == {"prompt": "dropped"} and dropped.status is None
    assert refused.json == {"prompt": "refused"} and refused.status == 503


def test_the_log_is_bounded_by_entries_and_bytes(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(request_log_size=3, request_log_bytes=100)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        for i in range(5):
            client.get(f"/v2/status/{i}")
        assert [r.path for r in emulator.requests()] == [f"/v2/status/{i}" for i in (2, 3, 4)]
        client.post(GENERATE_PATH, content=b"x" * 60)
        client.post(GENERATE_PATH, content=b"y" * 60)  # 120 bytes: the older body goes
        assert [r.body for r in emulator.requests(method="POST")] == [b"y" * 60]
        client.post(GENERATE_PATH, content=b"z" * 150)  # over the whole budget: size only
        big = emulator.requests(method="POST")[-1]
        assert (big.body, big.body_size, big.body_truncated) == (b"", 150, True)
    off = start_emulator(request_log_size=0)
    httpx.get(f"{off.base_url}/v2/status/x", headers=AUTH)
    assert off.requests() == []

"""Result files: no token needed, expiring signed URLs, fresh URLs from status, big files."""

from __future__ import annotations

import time

import httpx

from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, b64, png_bytes


def _completed_url(client: httpx.Client, request_id: str) -> str:
    body = client.get(f"/v2/status/{request_id}").json()
    assert body["status"] == "COMPLETED"
    return str(body["result"]["image_url"])


def test_result_file_is_served_without_token_with_head_and_range(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    sync = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "sync": True}).json()
    url = sync["result"]["image_url"]
    full = httpx.get(url)
    assert full.status_code == 200
    assert full.headers["content-type"] == "image/png"
    assert full.content.startswith(b"\x89PNG")
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(full.content)
    part = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206
    assert part.content == full.content[:8]
    assert emulator.stats().file_requests_with_api_token == 0
    httpx.get(url, headers=AUTH)
    assert emulator.stats().file_requests_with_api_token == 1


def test_url_expires_and_status_mints_a_fresh_one(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(result_ttl_s=1)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        body = {"image": b64(png_bytes()), "sync": True}
        request_id = client.post(EDIT_PATH, json=body).json()["request_id"]
        old = _completed_url(client, request_id)
        assert httpx.get(old).status_code == 200
        deadline = time.monotonic() + 3
        while (expired := httpx.get(old)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert expired.status_code == 403
        assert "expired" in expired.text
        fresh = _completed_url(client, request_id)
        assert fresh != old
        assert httpx.get(fresh).status_code == 200


def test_tampered_or_unknown_urls_are_refused(client: httpx.Client) -> None:
    url = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "sync": True}).json()
    good = httpx.URL(url["result"]["image_url"])
    tampered = good.copy_set_param("exp", str(int(good.params["exp"]) + 1000))
    assert httpx.get(tampered).status_code == 403
    assert httpx.get(good.copy_remove_param("sig")).status_code == 403
    unknown = good.copy_with(path="/files/0123456789abcdef0123456789abcdef.png")
    assert httpx.get(unknown).status_code == 404


def test_large_result_file_streams(client: httpx.Client) -> None:
    size = 100 * 1024 * 1024
    made = client.post("/_emulator/files", params={"size": size, "ext": "png"}).json()
    assert made["size"] == size
    job = client.post(
        "/_emulator/jobs", json={"latency_s": 0, "result": {"image_url": made["url"]}}
    ).json()
    url = _completed_url(client, job["request_ids"][0])
    assert url != made["url"] or "exp=" in url
    received = 0
    biggest_chunk = 0
    with httpx.stream("GET", url) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == size
        for chunk in response.iter_raw():
            received += len(chunk)
            biggest_chunk = max(biggest_chunk, len(chunk))
    assert received == size
    assert biggest_chunk < 8 * 1024 * 1024


def test_uploaded_file_hook_round_trips(client: httpx.Client) -> None:
    data = png_bytes((32, 32), "blue")
    made = client.post(
        "/_emulator/files", content=data, params={"content_type": "image/png", "ext": "png"}
    ).json()
    downloaded = httpx.get(made["url"])
    assert downloaded.content == data
    assert downloaded.headers["content-type"] == "image/png"
    bad = client.post("/_emulator/files", params={"size": "lots"})
    assert bad.status_code == 400 and bad.json()["error"]["details"].startswith("size:")

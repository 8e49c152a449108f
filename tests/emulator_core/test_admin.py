"""Introspection and hooks: stats count what happened, reset, config, ready-made jobs."""

from __future__ import annotations

import httpx

from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, GENERATE_PATH, b64, png_bytes


def test_stats_count_what_happened(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(rpm=3)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        for _ in range(2):
            client.post(EDIT_PATH, json={"image": b64(png_bytes())})
        done = client.post(GENERATE_PATH, json={"prompt": "a cat", "sync": True}).json()
        client.post(EDIT_PATH, json={})  # 400: a request, not a submit
        httpx.post(f"{emulator.base_url}{EDIT_PATH}", json={})  # 401
        for request_id in (done["request_id"], done["request_id"], "unknown", "unknown"):
            client.get(f"/v2/status/{request_id}")  # the 4th status call gets 429
        over_http = client.get("/_emulator/stats").json()

    stats = emulator.stats()
    assert over_http == stats.model_dump(mode="json")
    assert stats.requests == {
        f"POST {EDIT_PATH}": 4,
        f"POST {GENERATE_PATH}": 1,
        "GET /v2/status/{request_id}": 4,
    }
    assert stats.submits == {EDIT_PATH: 2, GENERATE_PATH: 1}
    assert stats.rate_limited == {"/v2/status": 1}
    assert stats.status_polls == {done["request_id"]: 2}
    assert stats.status_polls_total == 3
    assert sum(stats.jobs.values()) == 3
    assert stats.jobs.get("COMPLETED", 0) >= 1


def test_reset_forgets_jobs_files_and_counts(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    sync = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "sync": True}).json()
    assert client.post("/_emulator/reset").json() == {"reset": True}
    assert client.get(f"/v2/status/{sync['request_id']}").status_code == 404
    assert httpx.get(sync["result"]["image_url"]).status_code == 404
    stats = emulator.stats()
    assert stats.submits == {} and stats.jobs == {}


def test_config_reads_and_changes_latency(client: httpx.Client, emulator: EmulatorServer) -> None:
    current = client.get("/_emulator/config").json()
    assert current["latency"] == {"*": "fixed:0"}
    changed = client.post("/_emulator/config", json={"latency": {"edit": "uniform:100,200"}})
    assert changed.json()["latency"] == {"edit": "uniform:100,200"}
    request_id = client.post(EDIT_PATH, json={"image": b64(png_bytes())}).json()["request_id"]
    job = emulator.state.jobs.get(request_id)
    assert job is not None and 100 <= job.done_at - job.submitted_at <= 200
    bad = client.post("/_emulator/config", json={"latency": {"edit": "gaussian:1"}})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"].startswith("latency.edit")
    unknown = client.post("/_emulator/config", json={"latencies": {}})
    assert unknown.json()["error"]["details"] == "latencies: unknown setting"


def test_ready_made_jobs_hook(client: httpx.Client) -> None:
    made = client.post(
        "/_emulator/jobs",
        json={"count": 2, "latency_s": 0, "error": {"code": "VALIDATION_ERROR", "message": "x"}},
    ).json()
    body = client.get(f"/v2/status/{made['request_ids'][0]}").json()
    assert body["status"] == "ERROR" and body["error"]["code"] == "VALIDATION_ERROR"
    ok = client.post("/_emulator/jobs", json={"latency_s": 0}).json()["request_ids"][0]
    result = client.get(f"/v2/status/{ok}").json()["result"]
    assert httpx.get(result["image_url"]).content.startswith(b"\x89PNG")
    assert isinstance(result["seed"], int)
    bad = client.post("/_emulator/jobs", json={"count": 0})
    assert bad.json()["error"]["details"].startswith("count:")

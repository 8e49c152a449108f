"""The 202 / status lifecycle, sync modes, job errors and answer shapes."""

from __future__ import annotations

import time

import httpx

from bria_dagster.client.results import JobState, parse_status
from bria_dagster.emulator import EmulatorServer

from .conftest import StartEmulator
from .helpers import (
    AUTH,
    EDIT_PATH,
    ENHANCE_PATH,
    GENERATE_PATH,
    V1_CUTOUT_PATH,
    b64,
    final_status,
    png_bytes,
)


def test_submit_is_202_then_in_progress_until_latency_then_completed(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(latency={"edit": 0.4})
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        started = time.monotonic()
        submitted = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "seed": 42})
        assert submitted.status_code == 202
        body = submitted.json()
        assert set(body) == {"request_id", "status_url"}
        assert body["status_url"] == f"{emulator.base_url}/v2/status/{body['request_id']}"

        first = client.get(body["status_url"])
        assert first.status_code == 200
        assert first.json() == {"request_id": body["request_id"], "status": "IN_PROGRESS"}

        done = final_status(client, body["request_id"])
        assert time.monotonic() - started >= 0.4
        assert done["status"] == "COMPLETED"
        assert done["result"]["seed"] == 42
        assert done["result"]["image_url"].startswith(f"{emulator.base_url}/files/")
        assert parse_status(done).status is JobState.COMPLETED


def test_latency_is_drawn_per_family_and_seeded(start_emulator: StartEmulator) -> None:
    latency = {"edit": "uniform:1,3", "*": "fixed:5"}
    draws = []
    for _ in range(2):
        state = start_emulator(latency=latency, seed=11).state
        draws.append([state.draw_latency("edit") for _ in range(5)])
        assert state.draw_latency("generation") == 5.0
    assert draws[0] == draws[1]
    assert all(1 <= d <= 3 for d in draws[0]) and len(set(draws[0])) == 5


def test_sync_true_answers_200_with_result(client: httpx.Client) -> None:
    response = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "sync": True})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "result"}
    assert httpx.get(body["result"]["image_url"]).status_code == 200
    assert client.get(f"/v2/status/{body['request_id']}").json()["status"] == "COMPLETED"


def test_sync_waits_for_the_latency(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(latency={"edit": 0.3})
    started = time.monotonic()
    response = httpx.post(
        f"{emulator.base_url}{EDIT_PATH}",
        json={"image": b64(png_bytes()), "sync": True},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_sync_true_on_an_async_only_endpoint_is_400(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    refused = client.post(ENHANCE_PATH, json={"image": b64(png_bytes()), "sync": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"].startswith("sync:")
    assert "asynchronous" in refused.json()["error"]["details"]
    assert client.post(ENHANCE_PATH, json={"image": b64(png_bytes())}).status_code == 202
    assert emulator.stats().submits == {ENHANCE_PATH: 1}


def test_v1_always_sync_answers_its_own_body(client: httpx.Client) -> None:
    response = client.post(V1_CUTOUT_PATH, json={"image": b64(png_bytes()), "sync": False})
    assert response.status_code == 200
    assert set(response.json()) == {"result_url"}
    assert httpx.get(response.json()["result_url"]).status_code == 200


def test_v1_result_urls_use_the_v1_ttl(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(v1_result_ttl_s=3600, result_ttl_s=86400)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        v1 = client.post(V1_CUTOUT_PATH, json={"image": b64(png_bytes())}).json()["result_url"]
        v2 = client.post(EDIT_PATH, json={"image": b64(png_bytes()), "sync": True})
    v1_exp = int(httpx.URL(v1).params["exp"])
    v2_exp = int(httpx.URL(v2.json()["result"]["image_url"]).params["exp"])
    assert 3500 < v1_exp - time.time() <= 3601
    assert v2_exp - v1_exp > 80000


def test_unknown_request_id_is_404_not_found(client: httpx.Client) -> None:
    response = client.get("/v2/status/0123456789abcdef")
    assert response.status_code == 404
    assert response.json() == {"status": "NOT_FOUND"}


def test_ip_signal_warning_on_202_and_sync(client: httpx.Client) -> None:
    body = {"prompt": "Mickey on a beach", "ip_signal": True}
    submitted = client.post(GENERATE_PATH, json=body)
    assert submitted.status_code == 202
    assert submitted.json()["warning"] == "The prompt may reference protected IP"
    done = final_status(client, submitted.json()["request_id"])
    assert done["warning"] == "The prompt may reference protected IP"
    assert "warning" not in done["result"]
    sync = client.post(GENERATE_PATH, json={**body, "sync": True})
    assert sync.json()["warning"] == "The prompt may reference protected IP"
    plain = client.post(GENERATE_PATH, json={"prompt": "a cat", "ip_signal": True})
    assert "warning" not in plain.json()


def test_a_warning_in_the_result_moves_to_the_top_level(client: httpx.Client) -> None:
    body = {"prompt": "a cat", "aspect_ratio": "1:1", "sync": True}
    answer = client.post(GENERATE_PATH, json=body).json()
    assert answer["warning"] == "aspect_ratio is ignored for a single image"
    assert "warning" not in answer["result"]


def test_execution_error_ends_the_job_error_with_its_code(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    unreachable = "http://127.0.0.1:9/missing.png"
    submitted = client.post(EDIT_PATH, json={"image": unreachable}).json()
    done = final_status(client, submitted["request_id"])
    assert done["status"] == "ERROR"
    assert done["error"]["code"] == 460
    assert done["error"]["message"] == "Failed to download image"
    assert done["error"]["details"].startswith("image:")
    sync = client.post(EDIT_PATH, json={"image": unreachable, "sync": True})
    assert sync.status_code == 460
    assert sync.json()["error"]["code"] == 460
    assert emulator.stats().jobs == {"ERROR": 2}


def test_moderation_trigger_in_the_prompt_ends_422(client: httpx.Client) -> None:
    submitted = client.post(GENERATE_PATH, json={"prompt": "a [moderate] scene"}).json()
    done = final_status(client, submitted["request_id"])
    assert done["error"]["code"] == 422
    assert done["error"]["details"].startswith("prompt:")


def test_string_codes_and_seeds_switch(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(string_codes=True, string_seeds=True)
    with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
        ok = client.post(GENERATE_PATH, json={"prompt": "a cat", "seed": 5}).json()
        failed = client.post(GENERATE_PATH, json={"prompt": "[moderate]"}).json()
        ok_body = final_status(client, ok["request_id"])
        failed_body = final_status(client, failed["request_id"])
    assert ok_body["result"]["seed"] == "5"
    assert failed_body["error"]["code"] == "422"
    parsed = parse_status(ok_body)
    assert parsed.result is not None and parsed.result.seed == 5


def test_seed_is_drawn_when_absent_and_reproducible(start_emulator: StartEmulator) -> None:
    seeds = []
    for _ in range(2):
        emulator = start_emulator(seed=99)
        response = httpx.post(
            f"{emulator.base_url}{GENERATE_PATH}",
            json={"prompt": "a cat", "sync": True},
            headers=AUTH,
        )
        seeds.append(response.json()["result"]["seed"])
    assert seeds[0] == seeds[1]
    assert isinstance(seeds[0], int)


def test_ten_thousand_pending_jobs_cost_only_records(client: httpx.Client) -> None:
    made = client.post("/_emulator/jobs", json={"count": 10_000, "latency_s": 3600}).json()
    assert len(made["request_ids"]) == 10_000
    stats = client.get("/_emulator/stats").json()
    assert stats["jobs"] == {"IN_PROGRESS": 10_000}
    last = client.get(f"/v2/status/{made['request_ids'][-1]}").json()
    assert last["status"] == "IN_PROGRESS"

"""Every fault kind as a client sees it; scopes, counts, rates and runtime changes."""

from __future__ import annotations

import time

import httpx
import pytest

from bria_dagster.emulator import EmulatorServer, FaultRule

from .conftest import StartEmulator
from .helpers import AUTH, EDIT_PATH, GENERATE_PATH, b64, final_status, png_bytes

BODY = {"image": b64(png_bytes())}


def _submit(client: httpx.Client) -> httpx.Response:
    return client.post(EDIT_PATH, json=BODY)


def test_server_error_is_a_5xx_envelope_and_makes_no_job(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="server_error", count=1, status_code=502)])
    failed = _submit(client)
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == 502
    assert failed.json()["error"]["message"] == "Bad Gateway"
    assert _submit(client).status_code == 202
    assert emulator.stats().submits == {EDIT_PATH: 1}
    assert emulator.stats().faults == {"server_error": 1}


def test_drop_before_processing_makes_no_job(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="drop_before", on="submits", count=1)])
    with pytest.raises(httpx.RemoteProtocolError):
        _submit(client)
    assert emulator.stats().submits == {}
    assert _submit(client).status_code == 202


def test_drop_the_next_two_submits_after_processing(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    client.post(
        "/_emulator/config", json={"faults": [{"kind": "drop_after", "on": "submits", "count": 2}]}
    )
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            _submit(client)
    # Status polls are out of the rule's scope; the third submit is answered.
    assert client.get("/v2/status/nope").status_code == 404
    assert _submit(client).status_code == 202
    stats = emulator.stats()
    assert stats.submits == {EDIT_PATH: 3}  # the dropped submits were made (and billed)
    assert stats.faults == {"drop_after": 2}
    assert emulator.state.faults.rules == []


def test_job_error_and_unknown(client: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.configure(
        faults=[
            FaultRule(kind="job_error", count=1, paths=(GENERATE_PATH,)),
            FaultRule(kind="job_unknown", count=1),
        ]
    )
    errored = client.post(GENERATE_PATH, json={"prompt": "a cat", "sync": True})
    assert errored.status_code == 500
    unknown = final_status(client, _submit(client).json()["request_id"])
    assert unknown["status"] == "UNKNOWN"
    assert unknown["error"]["code"] == 500
    assert emulator.stats().faults == {"job_error": 1, "job_unknown": 1}
    assert emulator.stats().jobs == {"ERROR": 1, "UNKNOWN": 1}


def test_slow_answers_time_a_client_out(client: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.configure(faults=[FaultRule(kind="slow", on="status", delay_s=0.5, count=1)])
    with pytest.raises(httpx.ReadTimeout):
        client.get("/v2/status/x", timeout=0.2)
    started = time.monotonic()
    assert client.get("/v2/status/x").status_code == 404
    assert time.monotonic() - started < 0.4
    assert emulator.stats().faults == {"slow": 1}


def test_rates_are_seeded_and_reproducible(start_emulator: StartEmulator) -> None:
    outcomes = []
    for _ in range(2):
        emulator = start_emulator(seed=3, faults=[{"kind": "server_error", "rate": 0.3}])
        with httpx.Client(base_url=emulator.base_url, headers=AUTH) as client:
            outcomes.append([client.get("/v2/status/x").status_code for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert 3 <= outcomes[0].count(503) <= 25


def test_bad_fault_config_is_400_naming_the_field(client: httpx.Client) -> None:
    bad = client.post("/_emulator/config", json={"faults": [{"kind": "explode"}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"].startswith("faults.0.kind")
    assert client.post("/_emulator/config", json={"port": 1}).json()["error"]["details"] == (
        "port: cannot be changed while the server runs"
    )

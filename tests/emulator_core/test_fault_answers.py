"""The fault knobs the test fakes had: any answer (status, headers, body), ``after``, faults on
result files, answers without Content-Length."""

from __future__ import annotations

import httpx
import pytest

from bria_dagster.emulator import EmulatorServer, FaultRule

from .helpers import GENERATE_PATH


def test_respond_gives_any_status_headers_and_body(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(
        faults=[
            FaultRule(
                kind="respond",
                status_code=429,
                headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
                body={"error": {"code": 429, "message": "slow down"}},
                count=1,
            ),
            FaultRule(kind="respond", status_code=502, text="<html>bad gateway</html>", count=1),
            FaultRule(kind="respond", status_code=400, count=1, paths=("/v2/status",)),
        ]
    )
    limited = client.post(GENERATE_PATH, json={"prompt": "a"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert limited.json() == {"error": {"code": 429, "message": "slow down"}}
    proxy = client.post(GENERATE_PATH, json={"prompt": "a"})
    assert (proxy.status_code, proxy.text) == (502, "<html>bad gateway</html>")
    empty = client.get("/v2/status/x")
    assert (empty.status_code, empty.content) == (400, b"")
    assert client.post(GENERATE_PATH, json={"prompt": "a"}).status_code == 202
    assert emulator.stats().submits == {GENERATE_PATH: 1}  # answered faults make no job
    assert emulator.stats().faults == {"respond": 3}


def test_after_lets_the_first_matching_requests_through(
    client: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="server_error", after=2, on="status")])
    client.post(GENERATE_PATH, json={"prompt": "a"})  # out of scope: not counted
    codes = [client.get("/v2/status/x").status_code for _ in range(4)]
    assert codes == [404, 404, 503, 503]


def _stored(emulator: EmulatorServer, size: int) -> str:
    answer = httpx.post(f"{emulator.base_url}/_emulator/files", params={"size": size})
    return str(answer.json()["url"])


def test_file_faults_only_with_on_files(emulator: EmulatorServer) -> None:
    url = _stored(emulator, 3000)
    emulator.state.configure(faults=[FaultRule(kind="server_error")])  # API requests only
    assert httpx.get(url).status_code == 200
    emulator.state.configure(
        faults=[
            FaultRule(kind="respond", on="files", status_code=503, headers={"Retry-After": "1"}),
        ]
    )
    refused = httpx.get(url)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    emulator.state.configure(faults=[FaultRule(kind="chunked", on="files", paths=("/files/*",))])
    with httpx.stream("GET", url) as streamed:
        assert "content-length" not in streamed.headers
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert len(streamed.read()) == 3000
    assert emulator.stats().faults == {"respond": 1, "chunked": 1}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "server_error", "status_code": 429}, "status_code"),
        ({"kind": "respond", "body": {}, "text": "x"}, "text"),
        ({"kind": "respond", "after": -1}, "after"),
    ],
)
def test_bad_knobs_are_refused_naming_the_field(
    client: httpx.Client, rule: dict[str, object], field: str
) -> None:
    answer = client.post("/_emulator/config", json={"faults": [rule]})
    assert answer.status_code == 400
    assert field in answer.json()["error"]["details"]

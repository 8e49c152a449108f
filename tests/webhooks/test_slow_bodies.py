"""Bodies that trickle in: closed with 408 after the body timeout, capped in number, and never in
the way of a real delivery.

The receiver runs as the ``bria-webhooks`` process (uvicorn) on 127.0.0.1; the slow clients are
raw sockets sending one byte every 2 s; everything stops by itself within ~15 s.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bria_dagster.ledger import EntryState, Ledger, PendingRow
from bria_dagster.webhooks import WebhookServer, create_webhook_app
from bria_dagster.webhooks.deadline import DEFAULT_BODY_TIMEOUT_S
from tests.cli_process import serving

from .support import deliver

SCRIPT = Path(sys.executable).with_name("bria-webhooks")
SLOW_CLIENTS = 300


def _pending(ledger: Ledger, request_id: str) -> int:
    now = time.time()
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    ledger.bulk_insert_pending(
        [
            PendingRow(
                "slow/asset", request_id, "image/generate", digest, request_id, now, now + 3600
            )
        ]
    )
    entry = ledger.by_request_id(request_id)
    assert entry is not None
    return entry.id


def _body(request_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "status": "COMPLETED",
        "result": {"image_url": "https://files.example/slow.png", "seed": 1},
    }


@contextmanager
def _slow_clients(host: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that send a POST's headers, then one body byte every 2 s."""
    head = (
        f"POST /bria/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n{"
    ).encode()
    sockets = []
    stop = threading.Event()
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(head)
            sockets.append(sock)

        def trickle() -> None:
            while not stop.wait(2.0):
                for sock in sockets:
                    with contextlib.suppress(OSError):  # the server closed it
                        sock.send(b" ")

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        yield sockets
        stop.set()
        thread.join(timeout=5)
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def _answers(sockets: list[socket.socket], until: float) -> dict[int, bytes]:
    """The first bytes each socket receives (b"" for a close without an answer), by index."""
    got: dict[int, bytes] = {}
    waiting = {sock.fileno(): i for i, sock in enumerate(sockets)}
    while waiting and time.monotonic() < until:
        ready, _, _ = select.select(list(waiting), [], [], 0.2)
        for fd in ready:
            index = waiting.pop(fd)
            try:
                got[index] = sockets[index].recv(64)
            except OSError:
                got[index] = b""
    return got


@pytest.fixture
def receiver_process(
    tmp_path: Path, token: str
) -> Iterator[tuple[Ledger, str, subprocess.Popen[str]]]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger.from_url(url)
    env = {**os.environ, "BRIA_API_TOKEN": token}
    command = [str(SCRIPT), "--ledger-url", url, "--port", "0", "--log-level", "warning"]
    ready = r"receiving at (http://127\.0\.0\.1:\d+/bria/webhook)"
    try:
        with serving(command, ready, env) as (proc, webhook_url):
            yield ledger, webhook_url, proc
    finally:
        ledger.dispose()


@pytest.mark.slow
def test_slow_bodies_are_cut_off_and_do_not_delay_a_delivery(
    receiver_process: tuple[Ledger, str, subprocess.Popen[str]], token: str
) -> None:
    ledger, url, _proc = receiver_process
    entry_id = _pending(ledger, "slow-1")
    port = int(url.split(":")[2].split("/")[0])
    with _slow_clients("127.0.0.1", port, SLOW_CLIENTS) as sockets:
        opened = time.monotonic()
        time.sleep(1.0)  # every slow body is arriving now

        started = time.monotonic()
        answer = deliver(url, token, _body("slow-1"))
        took = time.monotonic() - started

        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "completed"
        assert took < 2.0, f"a delivery waited {took:.1f} s behind {SLOW_CLIENTS} slow bodies"
        assert ledger.get(entry_id).state is EntryState.COMPLETED

        got = _answers(sockets, opened + DEFAULT_BODY_TIMEOUT_S + 5.0)
    assert len(got) == SLOW_CLIENTS, f"{SLOW_CLIENTS - len(got)} slow bodies still held"
    assert all(first.startswith(b"HTTP/1.1 408") for first in got.values()), set(got.values())


def test_beyond_the_cap_a_request_gets_503_at_once(ledger: Ledger, token: str) -> None:
    entry_id = _pending(ledger, "capped-1")
    app = create_webhook_app(ledger, token, max_arriving_bodies=2)
    with WebhookServer(app) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        with _slow_clients("127.0.0.1", port, 2):
            time.sleep(0.3)
            refused = deliver(server.webhook_url, token, _body("capped-1"))
        assert refused.status_code == 503
        assert ledger.get(entry_id).state is EntryState.PENDING
        time.sleep(0.3)  # the server sees the slow clients go
        accepted = deliver(server.webhook_url, token, _body("capped-1"))  # Bria's retry
    assert accepted.status_code == 200, accepted.text
    assert ledger.get(entry_id).state is EntryState.COMPLETED

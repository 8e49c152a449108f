"""One ``bria-emulator`` process started with its defaults (Bria-like latencies: ads about 90 s),
the way a user runs it, and the demo pointed at it in the background.

The two tests of this folder wait mostly for the emulator's latencies, so they share them: the
demo starts first (``demo_run``), Bria's published examples are replayed while it works, and
the demo's test then waits for it to end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEMO_TOKEN = "demo-process-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="package")
def default_emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bria-emulator --port N`` (every other setting its default), for this folder's tests."""
    folder = tmp_path_factory.mktemp("default_emulator")
    port = _free_port()
    with (folder / "emulator.log").open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "bria-emulator"), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, (folder / "emulator.log").read_text()
                try:
                    httpx.get(f"{url}/_emulator/stats", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "the emulator did not start"
                    time.sleep(0.2)
            yield url
        finally:
            _stop(process)


@dataclass
class DemoRun:
    """``bria-dagster-demo --limit 2`` running against the default emulator."""

    process: subprocess.Popen[bytes]
    home: Path
    output: Path
    started: float

    def wait(self, timeout_s: float = 900) -> tuple[int, str, float]:
        """The exit code, the output and how long the demo took."""
        code = self.process.wait(timeout_s)
        return code, self.output.read_text(errors="replace"), time.monotonic() - self.started


@pytest.fixture(scope="package")
def demo_run(
    default_emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoRun]:
    """Start the demo with ``BRIA_API_TOKEN`` and ``BRIA_BASE_URL`` pointing at the emulator."""
    folder = tmp_path_factory.mktemp("demo_run")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BRIA_STORAGE_URI", "BRIA_LEDGER_URL", "DAGSTER_HOME")
    }
    env.update(
        BRIA_API_TOKEN=DEMO_TOKEN,
        BRIA_BASE_URL=default_emulator_url,
        BRIA_DAGSTER_HOME=str(folder / "bria_home"),
    )
    home = folder / "instance"
    output = folder / "demo.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [
                str(BIN / "bria-dagster-demo"),
                *("--definitions", str(REPO / "definitions.py")),
                *("--home", str(home), "--limit", "2"),
            ],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield DemoRun(process, home, output, time.monotonic())
    finally:
        if process.poll() is None:
            _stop(process)

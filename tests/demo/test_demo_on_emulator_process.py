"""``bria-dagster-demo`` against a ``bria-emulator`` started as a separate process with its
defaults (Bria-like latencies: ads about 90 s), the way a user points the demo at any Bria-
compatible server: ``BRIA_API_TOKEN`` and ``BRIA_BASE_URL``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STEPS = ("product_photo", "cutout", "packshot", "lifestyle_shot", "ad_formats", "ad")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[str]:
    """``bria-emulator --port N`` (every other setting its default) until the test ends."""
    port = _free_port()
    log = (tmp_path / "emulator.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "bria-emulator"), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "emulator.log").read_text()
            try:
                httpx.get(f"{url}/_emulator/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_demo_completes_against_a_default_emulator_process(
    tmp_path: Path, emulator_process: str
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BRIA_STORAGE_URI", "BRIA_LEDGER_URL", "DAGSTER_HOME")
    }
    env.update(
        BRIA_API_TOKEN="demo-process-token",
        BRIA_BASE_URL=emulator_process,
        BRIA_DAGSTER_HOME=str(tmp_path / "bria_home"),
    )
    home = tmp_path / "instance"
    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "bria-dagster-demo"),
            "--definitions",
            str(REPO / "definitions.py"),
            "--home",
            str(home),
            "--limit",
            "2",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Bria at {emulator_process}" in done.stdout
    images = home / "bria_images"
    for step in STEPS:
        pictures = [p for p in images.glob(f"{step}/*/*.*") if p.suffix != ".json"]
        assert len(pictures) == (6 if step == "ad_formats" else 2), (step, pictures)
        assert all(p.stat().st_size > 0 for p in pictures)
    stats = httpx.get(f"{emulator_process}/_emulator/stats").json()
    assert stats["submits"]["/v1/ads/generate"] == 2  # placeholders waited for, never re-POSTed
    print(f"demo --limit 2 against a default emulator process: {took:.0f} s")

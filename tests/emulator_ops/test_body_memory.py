"""A 200 MB POST does not grow the emulator process: the body cap refuses it while streaming.

The emulator runs as its own process (``bria-emulator``); its resident memory is read from
``/proc/<pid>/status`` before and after each POST. Before the cap, such a POST took the process
from 74 to 294 MB and it stayed there (here: a peak of 476 MB). Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_process import serving

SCRIPT = Path(sys.executable).with_name("bria-emulator")
MB = 1024 * 1024
POST_BYTES = 200 * MB
GROWTH_LIMIT_MB = 40.0
PEAK_LIMIT_MB = 100.0
"""The chunked POST may buffer up to the body cap (65 MiB) before its 413; never 200 MB."""


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert found, status
    return int(found.group(1)) / 1024


@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    ready = r"on (http://127\.0\.0\.1:\d+)"
    with serving([str(SCRIPT), "--port", "0", "--rpm", "0"], ready) as up:
        yield up


def _chunks(total: int) -> Iterator[bytes]:
    block = b" " * MB
    for _ in range(total // MB):
        yield block


@pytest.mark.slow
def test_a_200_mb_post_leaves_memory_flat(
    emulator_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, base_url = emulator_process
    headers = {"api_token": "memory-test", "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        assert http.post("/v2/image/generate", json={"prompt": "warm up"}).status_code == 202
        before = _rss_mb(proc.pid)
        answers = {
            "with Content-Length": http.post(
                "/v2/image/generate", content=b"{" + b" " * (POST_BYTES - 1)
            ),
            "chunked": http.post("/v2/image/generate", content=_chunks(POST_BYTES)),
        }
        after = _rss_mb(proc.pid)
        peak = _rss_mb(proc.pid, "VmHWM")
    print(
        f"\nemulator RSS: {before:.0f} MB before, {after:.0f} MB after two 200 MB POSTs "
        f"(peak {peak:.0f} MB)"
    )
    for how, answer in answers.items():
        assert answer.status_code == 413, (how, answer.text[:200])
    assert after - before < GROWTH_LIMIT_MB
    assert peak - before < PEAK_LIMIT_MB

"""Small runs of the benchmark scripts, so they keep working (figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_emulator_status_benchmark_reports_a_rate() -> None:
    out = _run(
        "emulator_status_rps.py",
        "--duration",
        "1",
        "--connections",
        "2",
        "--client-procs",
        "1",
        "--jobs",
        "20",
        "--json",
    )
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["requests"] > 0 and figures["requests_per_s"] > 0, figures


def test_storage_streaming_benchmark_reports_memory() -> None:
    out = _run("storage_streaming.py", "--smoke")
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "file" in rows and "s3" in rows, out  # both backends streamed and were measured

"""Small runs of the benchmark scripts, so they keep working (figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
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


def test_video_inspection_benchmark_reports_memory() -> None:
    out = _run("video_inspection.py", "--smoke")
    assert "of the 32 MB bound" in out and "h264" in out, out


def _figures(out: str) -> dict[str, dict]:
    """The figures of a script's ``--json`` line, by name."""
    document = json.loads(out.strip().splitlines()[-1])
    return {figure["name"]: figure for figure in document["figures"]}


def test_batch_throughput_benchmark_reports_every_mode() -> None:
    figures = _figures(_run("batch_throughput.py", "--smoke", "--json"))
    for mode in ("a_client_fanout", "e_sdk_pool", "f_sdk_naive"):
        assert figures[f"{mode} makespan"]["measured"] > 0, figures
        assert figures[f"{mode} failed jobs"]["measured"] == 0, figures
    assert figures["ideal makespan"]["measured"] > 0
    assert figures["a_client_fanout status calls per job"]["measured"] >= 1
    assert figures["f_sdk_naive status calls per job"]["measured"] == 0  # run() is sync: true
    assert figures["a_client_fanout makespan vs e_sdk_pool"]["measured"] > 0


def test_shared_budget_benchmark_reports_both_runs() -> None:
    figures = _figures(_run("shared_budget.py", "--smoke", "--json"))
    for mode in ("on", "off"):
        assert figures[f"limiter {mode}: throughput"]["measured"] > 0, figures
        assert figures[f"limiter {mode}: 429s per 1,000 jobs"]["measured"] >= 0, figures
    assert figures["limiter on: failed jobs"]["measured"] == 0, figures


def test_client_overhead_benchmark_reports_cpu_per_job() -> None:
    figures = _figures(_run("client_overhead.py", "--smoke", "--json"))
    for size in (20, 50, 100):
        assert figures[f"CPU per job at {size:,} jobs"]["measured"] > 0, figures
    assert figures["growth exponent b (CPU ~ N^b)"]["measured"] is not None
    assert figures["failed jobs"]["measured"] == 0


def test_run_all_combines_the_scripts(tmp_path: Path) -> None:
    out_file = tmp_path / "all.json"
    only = "client_overhead,emulator_status_rps"
    _run("run_all.py", "--smoke", "--only", only, "--json", str(out_file))
    document = json.loads(out_file.read_text())
    names = [figure["name"] for figure in document["figures"]]
    assert any(name.startswith("client_overhead: CPU per job") for name in names), names
    assert "emulator_status_rps: emulator status polls per second" in names, names
    assert document["machine"]["cores"] and document["seconds"] > 0
    assert set(document["load_average"]) == {"start", "end"}
    headline = {row["mode"]: row for row in document["headline"]}
    cpu = headline["client CPU (submit + poll, no download)"]["cpu_ms_per_job"]
    assert cpu["value"] > 0 and cpu["target"] == "<= 2", cpu
    assert "not run" in headline["shared budget, 4 processes, Redis"]["note"]
    # Issue 16's Dagster rows and issue 19's are in the table, even when they did not run.
    assert "not run" in headline["result sensor reporting, PostgreSQL"]["note"]
    assert any(mode.startswith("daemon backfill, single_run") for mode in headline), headline


def test_sensor_scale_benchmark_reports_every_tick() -> None:
    out = _run("sensor_scale.py", "--smoke", "--json")
    document = json.loads(out.strip().splitlines()[-1])
    figures = {figure["name"]: figure for figure in document["figures"]}
    ticks = document["details"]["ticks"]
    assert len(ticks) == 2, ticks
    assert all(t["wall_s"] > 0 and t["cpu_s"] > 0 and t["peak_rss_mb"] > 0 for t in ticks), ticks
    # The 12 finished jobs are polled, stored and reported as materializations.
    assert figures["status polls (all ticks)"]["measured"] >= 12, figures
    assert figures["entries stored (all ticks)"]["measured"] == 12, figures
    assert figures["entries reported (all ticks)"]["measured"] == 12, figures
    assert figures["slowest tick wall"]["measured"] > 0
    assert figures["peak RSS during a tick"]["measured"] > 0
    assert isinstance(figures["ticks over the sensor time limit (60 s)"]["measured"], int)
    assert figures["pending left"]["measured"] == 0, figures


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.timeout(1500)
def test_daemon_backfill_benchmark_runs_both_modes_through_the_daemon() -> None:
    """6 partitions backfilled through the webserver, runs started by the daemon, on a
    PostgreSQL instance: a run per partition by default, one submit run with the policy."""
    document = json.loads(
        _run("daemon_backfill.py", "--smoke", "--instances", "postgres", "--json", timeout=1400)
        .strip()
        .splitlines()[-1]
    )
    runs = document["details"]["runs"]
    per_partition, single_run = runs["postgres_per_partition"], runs["postgres_single_run"]
    # Each photo and each cut-out was paid for once (the emulator counted the submits).
    assert per_partition["submits"] == single_run["submits"] == 12, runs
    assert per_partition["submit_runs"] == 6 and per_partition["downstream_runs"] == 6, runs
    assert single_run["submit_runs"] == 1, runs
    assert 1 <= single_run["downstream_runs"] <= 6, runs
    figures = _figures(json.dumps(document))
    for mode in ("per_partition", "single_run"):
        ratio = figures[f"postgres, {mode}: makespan / chain bound"]["measured"]
        assert ratio > 1, figures  # nothing beats the bound
        events = figures[f"postgres, {mode}: events written per image"]["measured"]
        assert events >= 1, figures
        assert figures[f"postgres, {mode}: daemon CPU"]["measured"] > 0, figures

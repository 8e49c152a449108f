"""Run every benchmark of issue 8 and print one table of figures and targets.

Each script runs in its own process, one after another (they measure time and CPU, so they do
not share the machine with each other), and its own table is printed as it ends. Then one
combined table follows, then the headline table of issue 16 (``headline.py``: per mode, the
makespan over the sliding-window bound of the same run, polls per job, 429s, CPU per job, each
against its target) with the machine's load average at the start and the end. Everything is
written to ``benchmarks/results/<date>.json`` after a full run (``--json PATH`` elsewhere), with
the date, the machine, the load and each script's settings.

    python benchmarks/run_all.py                      # full run (about 30 minutes on 2 cores)
    python benchmarks/run_all.py --smoke              # every script's small version (CI)
    python benchmarks/run_all.py --json results.json --only batch_throughput,client_overhead
    python benchmarks/run_all.py --extra batch_throughput="--jobs 300 --width 64"

A script joins by following ``_common.Report``: ``--json`` prints one JSON object with a
``figures`` list on its last line, ``--smoke`` makes it small. ``sensor_scale.py`` (benchmark 3,
written with the Dagster layer) runs when the file exists. ``daemon_backfill.py`` (issue 19: a
backfill launched through the webserver, runs started by the daemon) runs on PostgreSQL. The
two older scripts (``storage_streaming.py``, ``emulator_status_rps.py``) have their own JSON,
adapted here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import headline
from _common import Figure, at_most, info, last_json_line, table

HERE = Path(__file__).resolve().parent
WHOLE_RUN_TARGET_S = 15 * 60


def _storage_figures(data: dict[str, Any]) -> list[Figure]:
    """storage_streaming.py writes ``{"size_mb", "results": [...]}`` to a file."""
    return [
        at_most(
            f"{r['backend']}:// peak RSS added storing {r['size_mb']} MB",
            r["peak_added_mb"],
            r["target_added_mb"],
            "MB",
            f"{r['mb_per_s']} MB/s; {r['peak_method']}",
        )
        for r in data["results"]
    ]


def _video_figures(data: dict[str, Any]) -> list[Figure]:
    """video_inspection.py writes a flat JSON object to a file."""
    return [
        at_most(
            f"peak RSS added reading a {data['size_mb']} MB video's facts and poster",
            data["peak_added_mb"],
            data["target_added_mb"],
            "MB",
            f"{data['frames']} frames in {data['seconds']} s; {data['peak_method']}",
        )
    ]


def _status_rps_figures(data: dict[str, Any]) -> list[Figure]:
    """emulator_status_rps.py prints a flat JSON object."""
    return [
        info(
            "emulator status polls per second",
            data["requests_per_s"],
            "req/s",
            f"p50 {data['p50_ms']} ms, p99 {data['p99_ms']} ms, {data['connections']} connections",
        ),
        info(
            "emulator CPU per status poll",
            data["server_cpu_us_per_request"],
            "us",
            f"one core answers up to {data['server_bound_requests_per_s']} req/s",
        ),
    ]


@dataclass(frozen=True)
class Benchmark:
    """One script and how to run it."""

    name: str
    issue_item: str
    """Which benchmark of the issue it is (1-5), or ``extra``."""
    full: tuple[str, ...] = ("--json",)
    smoke: tuple[str, ...] = ("--smoke", "--json")
    json_file_flag: str | None = None
    """Set when the script writes its JSON to a file given after this flag."""
    adapt: Callable[[dict[str, Any]], list[Figure]] | None = None
    """Turns a script's own JSON into figures (scripts following ``Report`` need none)."""
    optional: bool = False
    """Skipped (and said so) when the file does not exist yet."""
    ok_exit_codes: frozenset[int] = field(default_factory=lambda: frozenset({0}))
    script: str = ""
    """The script's name when it is not ``name`` (one script run with other settings)."""

    @property
    def path(self) -> Path:
        """The script."""
        return HERE / f"{self.script or self.name}.py"


REDIS_URL = os.environ.get("BRIA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "BRIA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
"""The shared limiter stores of issue 16's shared-budget runs (besides a SQLite file)."""


def _shared_on(store: str) -> dict[str, Any]:
    on = ("--modes", "on", "--shared-backend", store)
    return {"full": ("--json", *on), "smoke": ("--smoke", "--json", *on)}


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("batch_throughput", "1"),
    Benchmark(
        "batch_throughput_6000",
        "16",
        full=("--json", "--jobs", "6000", "--modes", "a,b"),
        smoke=("--smoke", "--json", "--modes", "a,b"),
        script="batch_throughput",
    ),
    Benchmark(
        "batch_throughput_postgres",
        "16",
        full=("--json", "--instance", "postgres", "--modes", "c,d"),
        smoke=("--smoke", "--json", "--instance", "postgres", "--modes", "c,d"),
        script="batch_throughput",
    ),
    Benchmark("shared_budget", "2"),
    Benchmark("shared_budget_redis", "16", script="shared_budget", **_shared_on(REDIS_URL)),
    Benchmark("shared_budget_postgresql", "16", script="shared_budget", **_shared_on(POSTGRES_URL)),
    Benchmark("sensor_scale", "3", optional=True),
    Benchmark(
        "sensor_scale_reporting",
        "16",
        full=(
            *("--json", "--instance", "postgres", "--webhooked", "--pending", "2000"),
            *("--max-stores", "500", "--ledger-url", POSTGRES_URL.replace("://", "+psycopg://")),
        ),
        smoke=("--smoke", "--json", "--instance", "postgres", "--webhooked"),
        script="sensor_scale",
    ),
    Benchmark(
        "storage_streaming",
        "4",
        full=(),
        smoke=("--smoke",),
        json_file_flag="--json",
        adapt=_storage_figures,
        ok_exit_codes=frozenset({0, 1}),  # 1: it ran, and a backend missed its target
    ),
    Benchmark("client_overhead", "5"),
    Benchmark(
        "video_inspection",
        "extra",
        full=(),
        smoke=("--smoke",),
        json_file_flag="--json",
        adapt=_video_figures,
        ok_exit_codes=frozenset({0, 1}),  # 1: it ran, and missed its target
    ),
    Benchmark(
        "emulator_status_rps",
        "extra",
        smoke=(
            *("--duration", "1", "--connections", "2"),
            *("--client-procs", "1", "--jobs", "20", "--json"),
        ),
        adapt=_status_rps_figures,
    ),
    # Issue 19 on PostgreSQL (the deployment its target is for; SQLite: run the script alone):
    # the batched chain at its target's 600 partitions with the executor the README recommends,
    # and per-partition runs, Dagster's defaults, at 40 (at 600 they would take most of an hour:
    # that is the point of batching).
    Benchmark(
        "daemon_backfill",
        "19",
        full=(
            *("--instances", "postgres", "--partitions", "600", "--modes", "single_run"),
            *("--executor", "in_process", "--json"),
        ),
        smoke=("--smoke", "--instances", "postgres", "--modes", "single_run", "--json"),
    ),
    Benchmark(
        "daemon_backfill_per_partition",
        "19",
        full=(
            "--instances",
            "postgres",
            "--partitions",
            "40",
            "--modes",
            "per_partition",
            "--json",
        ),
        smoke=("--smoke", "--instances", "postgres", "--modes", "per_partition", "--json"),
        script="daemon_backfill",
    ),
)


def _stream(command: list[str], timeout: float, *, json_line: bool) -> tuple[int | None, str, str]:
    """Run ``command``, echoing its output as it comes (not the JSON line); None on timeout."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=HERE.parent
        )
        assert process.stdout is not None
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if not (json_line and line.startswith("{")):
                    print(line, end="", flush=True)
            process.wait()
        finally:
            timer.cancel()
        errors.seek(0)
        stderr = errors.read()
    return (None if fired.is_set() else process.returncode), "".join(lines), stderr


def run_benchmark(
    bench: Benchmark, smoke: bool, extra: list[str], timeout: float
) -> dict[str, Any]:
    """Run one script; its figures (as dicts), seconds, and the error if it failed."""
    args = [*(bench.smoke if smoke else bench.full), *extra]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-run-all-") as scratch:
        json_path = Path(scratch, "out.json")
        if bench.json_file_flag:
            args += [bench.json_file_flag, str(json_path)]
        command = [sys.executable, str(bench.path), *args]
        print(f"\n=== {bench.name} ({' '.join(args)})", flush=True)
        returncode, stdout, stderr = _stream(command, timeout, json_line=not bench.json_file_flag)
        seconds = time.monotonic() - started
        if returncode is None:
            return {"error": f"timed out after {timeout:.0f} s", "figures": [], "seconds": seconds}
        if returncode not in bench.ok_exit_codes:
            return {
                "error": f"exit status {returncode}: {stderr[-2000:]}",
                "figures": [],
                "seconds": seconds,
            }
        try:
            data = (
                json.loads(json_path.read_text())
                if bench.json_file_flag
                else last_json_line(stdout)
            )
        except (OSError, ValueError) as exc:
            return {"error": f"no JSON figures: {exc}", "figures": [], "seconds": seconds}
    figures = bench.adapt(data) if bench.adapt else [Figure(**f) for f in data["figures"]]
    return {
        "figures": [f.as_dict() for f in figures],
        "seconds": seconds,
        "output": data,
        "error": None,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 1024**3, 1)
    except (ValueError, OSError):
        pass
    return {
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
    }


def parse_extra(items: list[str]) -> dict[str, list[str]]:
    """``NAME=ARGS`` options into argument lists per benchmark."""
    known = {b.name for b in BENCHMARKS}
    extra: dict[str, list[str]] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep or name not in known:
            raise ValueError(f"--extra: expected NAME=ARGS with NAME in {sorted(known)}: {item!r}")
        extra.setdefault(name, []).extend(shlex.split(rest))
    return extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small versions (seconds each)")
    parser.add_argument("--json", type=Path, help="write every figure and setting here")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--extra", action="append", default=[], help="NAME='ARGS' for a script")
    parser.add_argument("--timeout", type=float, default=900.0, help="per script, seconds")
    args = parser.parse_args(argv)
    names = {b.name for b in BENCHMARKS}
    only = {n.strip() for n in args.only.split(",")} if args.only else names
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - names
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(names)}")
    try:
        extra = parse_extra(args.extra)
    except ValueError as exc:
        parser.error(str(exc))

    started = time.monotonic()
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load_at_start = headline.load()
    results: dict[str, dict[str, Any]] = {}
    for bench in BENCHMARKS:
        if bench.name not in only or bench.name in skip:
            continue
        if bench.optional and not bench.path.exists():
            print(f"\n=== {bench.name}: {bench.path.name} does not exist yet, skipped")
            results[bench.name] = {"skipped": "not written yet", "figures": []}
            continue
        results[bench.name] = run_benchmark(
            bench, args.smoke, extra.get(bench.name, []), args.timeout
        )
        results[bench.name]["issue_item"] = bench.issue_item
    total = time.monotonic() - started

    combined: list[Figure] = []
    for name, result in results.items():
        for figure in result["figures"]:
            combined.append(Figure(**{**figure, "name": f"{name}: {figure['name']}"}))
        if result.get("error"):
            combined.append(info(f"{name}: FAILED", result["error"].splitlines()[0][:120]))
    whole = f"whole {'smoke ' if args.smoke else ''}run"
    combined.append(
        info(f"{whole} time", round(total, 1), "s")
        if args.smoke
        else at_most(f"{whole} time", round(total, 1), WHOLE_RUN_TARGET_S, "s")
    )
    host = machine()
    print()
    title = f"All benchmarks, {when}, {host['cores']} cores, {host['cpu']}"
    print(table(f"{title}, Python {host['python']}", combined))
    load = {"start": load_at_start, "end": headline.load()}
    top = headline.rows(results)
    print()
    print(
        headline.render(
            top,
            f"Headline (issue 16), {when}: load average {load_at_start['1min']} at the start, "
            f"{load['end']['1min']} at the end, on {host['cores']} cores",
        )
    )
    target = args.json
    if target is None and not args.smoke:
        target = HERE / "results" / f"{when[:10]}.json"
    if target:
        document = {
            "date": when,
            "machine": host,
            "load_average": load,
            "smoke": args.smoke,
            "seconds": round(total, 1),
            "headline": [row.as_dict() for row in top],
            "figures": [f.as_dict() for f in combined],
            "benchmarks": results,
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwritten to {target}")
    return 1 if any(r.get("error") for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())

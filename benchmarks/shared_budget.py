"""Shared budget: four processes drawing on one plan limit, with our shared limiter on and off.

The emulator (its own process) enforces ``--rpm`` requests per ``--window`` seconds per endpoint
and token (a short window stands for Bria's minute, so the run takes well under a minute). Four
plain processes (``--procs``) each submit ``--jobs`` jobs with our ``AsyncBriaClient`` and wait
for them with ``as_completed``, all with the same token and the same plan settings, starting at
the same moment:

- limiter on: the client's budget lives in one store all processes share (SQLite file in a
  temp dir by default; ``--shared-backend redis://127.0.0.1:6379/0`` or a PostgreSQL URL);
- limiter off: each process keeps its own budget in memory (``rate_limit_backend="memory"``),
  so together they ask for four times the plan.

Reported per run: 429s per 1,000 jobs (the emulator's count, submits and status polls), jobs
billed (submits the emulator accepted: retried POSTs must not bill twice), failed jobs, and
throughput in jobs/s against the plan's rate. Target with the limiter on: no 429 (issue 16;
it was at most 5 per 1,000 jobs).

    python benchmarks/shared_budget.py                  # 4 x 80 jobs, 60 requests per 5 s
    python benchmarks/shared_budget.py --smoke --json   # seconds, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import (
    EmulatorProcess,
    Report,
    at_most_if,
    info,
    last_json_line,
    rounded,
    total_429s,
)

from bria_dagster.client import AsyncBriaClient

ENDPOINT = "/v2/image/generate"
TARGET_429_PER_1000_JOBS = 0.0
"""Issue 16: no 429 at all while the processes share one limiter store."""


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    """One process's share: submit ``jobs`` jobs, wait for them all; counts and timings."""
    failed = 0
    errors: list[str] = []
    async with AsyncBriaClient(
        api_token=args.token,
        base_url=args.base_url,
        requests_per_minute=args.rpm,
        rate_limit_window_s=args.window,
        rate_limit_fraction=args.rate_limit_fraction,
        rate_limit_backend=args.backend,
        poll_first_factor=args.poll_first_factor,
    ) as bria:
        delay = args.start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        started = time.time()

        async def submit(index: int) -> Any:
            payload = {"prompt": f"process {args.child} product {index}", "seed": index}
            return await bria.submit(ENDPOINT, payload)

        submitted = await asyncio.gather(
            *(submit(i) for i in range(args.jobs)), return_exceptions=True
        )
        submits_done = time.time()
        jobs = [job for job in submitted if not isinstance(job, BaseException)]
        for problem in (job for job in submitted if isinstance(job, BaseException)):
            failed += 1
            errors.append(f"{type(problem).__name__}: {problem}"[:200])
        async for outcome in bria.as_completed(jobs):
            if outcome.error is not None:
                failed += 1
                errors.append(f"{type(outcome.error).__name__}: {outcome.error}"[:200])
        ended = time.time()
        usage = bria.usage().as_dict()
    return {
        "jobs": args.jobs,
        "failed": failed,
        "started": started,
        "ended": ended,
        "submits_done": submits_done,
        "errors": errors[:3],
        "usage": usage,
    }


def run_processes(
    emulator: EmulatorProcess, args: argparse.Namespace, backend: str
) -> dict[str, Any]:
    """Start ``procs`` children on one token and budget settings; gather their reports."""
    emulator.reset()
    token = f"bench-shared-{uuid.uuid4().hex}"
    start_at = time.time() + args.start_delay
    common = [
        "--base-url",
        emulator.base_url,
        "--token-env",
        "BENCH_TOKEN",
        "--backend",
        backend,
        "--start-at",
        repr(start_at),
        *["--jobs", str(args.jobs), "--rpm", str(args.rpm), "--window", str(args.window)],
        *["--rate-limit-fraction", str(args.rate_limit_fraction)],
        *["--poll-first-factor", str(args.poll_first_factor)],
    ]
    env = {**os.environ, "BENCH_TOKEN": token}
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(n), *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(args.procs)
    ]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=args.timeout)
        if child.returncode != 0:
            raise RuntimeError(f"a worker process failed:\n{err[-3000:]}")
        reports.append(last_json_line(out))
    stats = emulator.stats()
    jobs = sum(r["jobs"] for r in reports)
    failed = sum(r["failed"] for r in reports)
    first = min(r["started"] for r in reports)
    last = max(r["ended"] for r in reports)
    makespan = last - first
    rate_limited = total_429s(stats)
    return {
        "backend": backend,
        "jobs": jobs,
        "failed": failed,
        "billed": sum(stats.get("submits", {}).values()),
        "makespan_s": makespan,
        "jobs_per_s": (jobs - failed) / makespan if makespan > 0 else None,
        "rate_limited": rate_limited,
        "rate_limited_by_endpoint": stats.get("rate_limited", {}),
        "rate_limited_per_1000_jobs": 1000 * rate_limited / jobs,
        "start_skew_s": max(r["started"] for r in reports) - first,
        "submit_phase_s": max(r["submits_done"] for r in reports) - first,
        "process_makespans_s": [round(r["ended"] - r["started"], 1) for r in reports],
        "processes": reports,
    }


def child_main(args: argparse.Namespace) -> int:
    args.token = os.environ[args.token_env]
    print(json.dumps(asyncio.run(_child(args))))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, default=4, help="processes sharing the plan")
    parser.add_argument("--jobs", type=int, default=80, help="jobs per process")
    parser.add_argument("--rpm", type=int, default=60, help="plan limit per window and endpoint")
    parser.add_argument("--window", type=float, default=5.0, help="rate-limit window, seconds")
    parser.add_argument("--latency", default="lognormal:1,0.5", help="job latency distribution")
    parser.add_argument("--rate-limit-fraction", type=float, default=0.9)
    parser.add_argument("--poll-first-factor", type=float, default=1.0, help="our client's")
    parser.add_argument(
        "--shared-backend",
        default="sqlite",
        help="limiter store when on: sqlite (a temp file), redis://..., postgresql://...",
    )
    parser.add_argument("--modes", default="on,off", help="on, off or both")
    parser.add_argument("--start-delay", type=float, default=3.0, help="seconds to line up")
    parser.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    parser.add_argument("--smoke", action="store_true", help="4 x 8 jobs, early polls, for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token-env", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child_main(args)
    if args.smoke:
        args.jobs, args.window, args.poll_first_factor = 8, 2.0, 0.05
        args.latency, args.start_delay = "fixed:0.1", 2.0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"on", "off"}:
        parser.error("--modes: use on, off or on,off")
    if args.procs < 1 or args.jobs < 1 or args.rpm < 1:
        parser.error("--procs, --jobs and --rpm must be at least 1")

    rate = args.rpm / args.window
    report = Report(
        "shared_budget",
        f"Shared budget: {args.procs} processes x {args.jobs} jobs, one plan of {args.rpm} "
        f"requests per {args.window:g} s per endpoint ({rate:.1f}/s), latency {args.latency}",
        {
            "procs": args.procs,
            "jobs_per_process": args.jobs,
            "rpm": args.rpm,
            "window_s": args.window,
            "latency": args.latency,
            "rate_limit_fraction": args.rate_limit_fraction,
            "poll_first_factor": args.poll_first_factor,
            "shared_backend": args.shared_backend,
        },
    )
    runs: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-shared-") as scratch,
        EmulatorProcess(
            rpm=args.rpm, window_s=args.window, latency=args.latency, output_megapixels=0.05
        ) as emulator,
    ):
        shared = args.shared_backend
        if shared == "sqlite":
            shared = f"sqlite:///{Path(scratch, 'ratelimit.sqlite').resolve()}"
        for mode in modes:
            backend = shared if mode == "on" else "memory"
            print(f"running with the shared limiter {mode} ({backend.split(':')[0]}) ...")
            runs[mode] = run_processes(emulator, args, backend)
    for mode, run in runs.items():
        label = f"limiter {mode}"
        per_1000 = round(run["rate_limited_per_1000_jobs"], 2)
        note = f"{run['rate_limited']} 429s over {run['jobs']} jobs"
        report.figures += [
            at_most_if(
                mode == "on",
                f"{label}: 429s per 1,000 jobs",
                per_1000,
                TARGET_429_PER_1000_JOBS,
                note=note,
            ),
            info(
                f"{label}: throughput",
                rounded(run["jobs_per_s"]),
                "jobs/s",
                f"{run['jobs_per_s'] / rate:.0%} of the plan's {rate:.1f}/s"
                if run["jobs_per_s"]
                else "",
            ),
            info(
                f"{label}: makespan",
                rounded(run["makespan_s"], 1),
                "s",
                f"last submit at {run['submit_phase_s']:.1f} s; per process "
                + ", ".join(f"{s:g}" for s in run["process_makespans_s"]),
            ),
        ]
        on = mode == "on"
        report.figures += [
            at_most_if(on, f"{label}: failed jobs", run["failed"], 0),
            at_most_if(
                on,
                f"{label}: jobs billed minus jobs asked",
                run["billed"] - run["jobs"],
                0,
                note=f"{run['billed']} billed",
            ),
        ]
    report.details = {"runs": runs}
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

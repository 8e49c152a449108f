"""Client overhead: our client's own CPU time per job, and how it grows with the batch size.

The emulator runs in its own process (its CPU is not counted) with no latency and no rate
limit; our ``AsyncBriaClient`` (in-memory limiter with a very large plan, so every call still
goes through it) submits a batch of N jobs, waits for them all with ``as_completed`` and keeps
each result in a dict by request_id: submit + status parse + bookkeeping, no download. The
client process's CPU (``time.process_time()``: user + system, every thread) is read around each
batch, after an unmeasured warm-up batch.

Targets: at most 2 ms of CPU per job at every size, and growth no faster than linear: the
exponent b of CPU ∝ N^b fitted over the sizes (least squares on logs) at most 1.05 (issue 16;
1 is linear, the 0.05 is room for noise).

    python benchmarks/client_overhead.py                   # 100, 1,000 and 10,000 jobs
    python benchmarks/client_overhead.py --smoke --json    # 20, 50, 100 jobs, for CI
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
import uuid
from pathlib import Path
from typing import Any

from _common import EmulatorProcess, Report, at_most, cpu_seconds, info
from cpu_profile import cpu_profiled

from bria_dagster.client import AsyncBriaClient, JobResult

ENDPOINT = "/v2/image/generate"
TARGET_CPU_MS_PER_JOB = 2.0
TARGET_GROWTH_EXPONENT = 1.05
LARGE_PLAN_RPM = 100_000_000
WARM_UP_JOBS = 50


async def run_batch(bria: AsyncBriaClient, jobs: int, width: int) -> dict[str, Any]:
    """Submit ``jobs`` jobs (``width`` at once), wait for all, keep results; CPU and wall."""
    slots = asyncio.Semaphore(width)
    results: dict[str, JobResult] = {}
    failures: dict[str, str] = {}
    polls_before = bria.usage().status_polls

    async def submit(index: int) -> Any:
        async with slots:
            return await bria.submit(ENDPOINT, {"prompt": f"overhead {index}", "seed": index})

    cpu_started = time.process_time()
    wall_started = time.perf_counter()
    submitted = await asyncio.gather(*(submit(i) for i in range(jobs)))
    async for outcome in bria.as_completed(submitted):
        if outcome.error is not None:
            failures[outcome.request_id] = type(outcome.error).__name__
        else:
            assert outcome.result is not None
            results[outcome.request_id] = outcome.result
    wall = time.perf_counter() - wall_started
    cpu = time.process_time() - cpu_started
    return {
        "jobs": jobs,
        "completed": len(results),
        "failed": len(failures),
        "cpu_s": cpu,
        "wall_s": wall,
        "cpu_ms_per_job": 1000 * cpu / jobs,
        "status_polls_per_job": (bria.usage().status_polls - polls_before) / jobs,
    }


def growth_exponent(sizes: list[int], cpu: list[float]) -> float | None:
    """Least-squares slope of log(cpu) on log(size); None with fewer than two sizes."""
    if len(sizes) < 2 or any(c <= 0 for c in cpu):
        return None
    xs = [math.log(s) for s in sizes]
    ys = [math.log(c) for c in cpu]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    denominator = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / denominator


async def measure(
    base_url: str, sizes: list[int], width: int, emulator_pid: int, profile: Path | None = None
) -> list[dict]:
    """Warm up, then one measured batch per size (with ``profile``, a CPU profile of the
    measured batches is summed up there)."""
    async with AsyncBriaClient(
        api_token=f"bench-overhead-{uuid.uuid4().hex}",
        base_url=base_url,
        requests_per_minute=LARGE_PLAN_RPM,
        rate_limit_backend="memory",
        poll_first_factor=0.01,
        poll_interval_s=0.05,
        poll_max_interval_s=0.5,
    ) as bria:
        await run_batch(bria, WARM_UP_JOBS, width)
        runs = []
        title = f"client_overhead.py CPU profile: batches of {sizes} jobs, width {width}"
        for size in sizes:
            emulator_before = cpu_seconds(emulator_pid)
            with cpu_profiled(profile, title):
                run = await run_batch(bria, size, width)
            emulator_after = cpu_seconds(emulator_pid)
            if emulator_before is not None and emulator_after is not None:
                run["emulator_cpu_ms_per_job"] = 1000 * (emulator_after - emulator_before) / size
            runs.append(run)
            print(
                f"  {size:>6} jobs: {run['cpu_ms_per_job']:.3f} ms CPU per job, "
                f"{run['wall_s']:.1f} s wall",
                flush=True,
            )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="batch sizes, comma-separated")
    parser.add_argument("--width", type=int, default=64, help="submits in flight at once")
    parser.add_argument("--smoke", action="store_true", help="sizes 20,50,100, for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument(
        "--profile", type=Path, help="write a CPU profile summary (text) of the last size here"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = "20,50,100"
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes: whole numbers, e.g. 100,1000,10000")
    if not sizes or min(sizes) < 1 or args.width < 1:
        parser.error("--sizes and --width: at least 1")

    report = Report(
        "client_overhead",
        "Client overhead: CPU of our client per job (submit + status parse + bookkeeping)",
        {"sizes": sizes, "width": args.width, "warm_up_jobs": WARM_UP_JOBS},
    )
    with EmulatorProcess(rpm=None, latency="fixed:0", output_megapixels=0.01) as emulator:
        runs = asyncio.run(
            measure(emulator.base_url, sizes, args.width, emulator.pid, args.profile)
        )
    for run in runs:
        report.figures.append(
            at_most(
                f"CPU per job at {run['jobs']:,} jobs",
                round(run["cpu_ms_per_job"], 3),
                TARGET_CPU_MS_PER_JOB,
                "ms",
                f"{run['status_polls_per_job']:.2f} polls per job, {run['wall_s']:.1f} s wall",
            )
        )
    exponent = growth_exponent(sizes, [run["cpu_s"] for run in runs])
    report.figures.append(
        at_most(
            "growth exponent b (CPU ~ N^b)",
            None if exponent is None else round(exponent, 3),
            TARGET_GROWTH_EXPONENT,
            note="1 = linear",
        )
    )
    failed = sum(run["failed"] for run in runs)
    report.figures.append(info("failed jobs", failed))
    report.details = {"runs": runs}
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

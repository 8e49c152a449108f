"""Inline and deferred modes on the production topology, with 1 and with 2 Celery workers.

The topology of ``tests/distributed`` (a fresh PostgreSQL database as Dagster's instance and the
ledger, ``dagster-daemon``, ``dagster-webserver``, ``dagster-celery`` workers on a Redis broker,
the rate budget on Redis, results on SeaweedFS) is started once per worker count; in each, a
backfill of N partitions of the inline photo step, then of the deferred one (collected by the
daemon's result sensor), is launched through the webserver's GraphQL API. Makespan: from the
launch to the last partition's materialization. The daemon looks at backfills every 30 s, so
the time from the launch to the first run's start is printed apart ("pickup").

The bound is the batch benchmark's (``batch_throughput.window_bound``): the makespan of a
perfect client bursting into the emulator's sliding window, for the same N, plan and latency;
figures are makespan ÷ bound. Each Celery worker runs as many pool processes as the machine has
cores (Celery's default).

    python benchmarks/celery_modes.py                      # 120 partitions, 1 and 2 workers
    python benchmarks/celery_modes.py --jobs 60 --workers 1 --json
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, EmulatorProcess, Figure, Report, info, rounded, total_429s
from batch_throughput import window_bound

sys.path.insert(0, str(REPO))  # the topology harness lives with the tests

import dagster as dg

from tests.distributed.topology import (
    Topology,
    launch_backfill,
    partitions_materialized,
    running_topology,
)
from tests.storage.seaweedfs import run_seaweedfs

RPM = 1000
LATENCY = "lognormal:6,0.5"
MODES = {"inline": ("inline_photo", "inline_photo"), "deferred": ("photo_requests", "photo")}
"""Mode: (the asset the backfill launches, the asset whose materializations end it)."""


def run_mode(
    topology: Topology,
    instance: dg.DagsterInstance,
    emulator: EmulatorProcess,
    mode: str,
    partitions: list[str],
    timeout_s: float,
) -> dict[str, Any]:
    launched_asset, done_asset = MODES[mode]
    emulator.reset()
    started = time.monotonic()
    backfill_id = launch_backfill(topology, [launched_asset], partitions)
    topology.wait_for(
        f"{mode}: {len(partitions)} partitions",
        lambda: len(partitions_materialized(instance, done_asset, partitions)) == len(partitions),
        timeout_s,
    )
    makespan = time.monotonic() - started
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})
    )
    starts = [r.start_time for r in records if r.start_time]
    launched_at = time.time() - makespan
    stats = emulator.stats()
    return {
        "makespan_s": makespan,
        "pickup_s": (min(starts) - launched_at) if starts else None,
        "runs": len(records),
        "429s": total_429s(stats),
        "submits": sum(stats.get("submits", {}).values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=120)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]
    partitions = [f"sku-{i:03d}" for i in range(args.jobs)]
    bound = window_bound(args.jobs, RPM, 60.0, LATENCY)
    figures: list[Figure] = [
        info("bound (perfect client, sliding window)", rounded(bound, 1), "s"),
        info("load average at start (1 min)", rounded(os.getloadavg()[0], 2)),
    ]
    details: dict[str, Any] = {"bound_s": bound, "runs": {}}
    with (
        tempfile.TemporaryDirectory(prefix="celery-modes-") as tmp,
        run_seaweedfs(Path(tmp) / "s3") as s3,
        EmulatorProcess(rpm=RPM, latency=LATENCY) as emulator,
    ):
        for workers in worker_counts:
            env = {
                "BRIA_API_TOKEN": f"bench-{secrets.token_hex(8)}",
                "BRIA_BASE_URL": emulator.base_url,
                "DIST_SKUS": str(args.jobs),
                "DIST_RPM": str(RPM),
                "DIST_LIMITER": "redis://127.0.0.1:6379/0",
                "DIST_STORAGE_URI": f"s3://{s3.bucket}/bench-{secrets.token_hex(4)}",
                "DIST_S3_ENDPOINT": s3.endpoint_url,
                "AWS_ACCESS_KEY_ID": s3.key,
                "AWS_SECRET_ACCESS_KEY": s3.secret,
            }
            home = Path(tmp) / f"home-{workers}"
            with (
                running_topology(home, env, workers=workers) as topology,
                dg.DagsterInstance.from_config(str(home)) as instance,
            ):
                for mode in MODES:
                    found = run_mode(topology, instance, emulator, mode, partitions, 600)
                    details["runs"][f"{mode}_{workers}w"] = found
                    name = f"{mode}, {workers} worker(s)"
                    figures += [
                        info(f"{name}: makespan ÷ bound", rounded(found["makespan_s"] / bound)),
                        info(f"{name}: makespan", rounded(found["makespan_s"], 1), "s"),
                        info(f"{name}: daemon pickup", rounded(found["pickup_s"], 1), "s"),
                        info(f"{name}: 429s", found["429s"]),
                    ]
    figures.append(info("load average at end (1 min)", rounded(os.getloadavg()[0], 2)))
    Report(
        "celery_modes",
        "Inline and deferred modes, PostgreSQL instance, Celery workers",
        {"jobs": args.jobs, "rpm": RPM, "latency": LATENCY, "workers": worker_counts},
        figures,
        details,
    ).emit(args.json)


if __name__ == "__main__":
    main()

"""How many ``GET /v2/status/{id}`` requests per second the emulator answers.

Starts ``bria-emulator`` in a subprocess (so the load does not share its GIL) with a very high
rate limit, creates jobs (half COMPLETED, half IN_PROGRESS) through ``POST /_emulator/jobs``,
then polls their status from concurrent keep-alive httpx clients (threads in a few processes)
for a few seconds and prints requests/s and latency percentiles. Any answer but 200 aborts.

On a 2-core machine the load generator competes with the server for CPU, so the script also
reports the server's own CPU time per request (from /proc): the rate one core of the emulator
can sustain, whatever the client.

    python benchmarks/emulator_status_rps.py --duration 5 --connections 16 --client-procs 2
    python benchmarks/emulator_status_rps.py --http h11 --loop asyncio --json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

TOKEN = "benchmark-token"


def start_emulator(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "bria_dagster.emulator",
        "--port",
        "0",
        "--rpm",
        str(args.rpm),
        "--http",
        args.http,
        "--loop",
        args.loop,
        "--latency",
        "*=fixed:0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    match = re.search(r"http://\S+?:\d+", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("the emulator did not start")
    return process, match.group(0)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_jobs(base_url: str, count: int) -> list[str]:
    half = max(1, count // 2)
    ids: list[str] = []
    with httpx.Client(base_url=base_url) as client:
        for latency in (0, 3600):
            made = client.post("/_emulator/jobs", json={"count": half, "latency_s": latency})
            made.raise_for_status()
            ids += made.json()["request_ids"]
    return ids


def _poll(base_url: str, ids: list[str], offset: int, step: int, until: float) -> list[float]:
    """One keep-alive client polling until ``until``; returns each request's latency."""
    latencies: list[float] = []
    with httpx.Client(base_url=base_url, headers={"api_token": TOKEN}, timeout=10) as client:
        i = offset
        while (started := time.perf_counter()) < until:
            response = client.get(f"/v2/status/{ids[i % len(ids)]}")
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"status poll answered {response.status_code}")
            i += step
    return latencies


def _client_process(
    base_url: str, ids: list[str], first: int, threads: int, step: int, seconds: float, out: Any
) -> None:
    """Warm up, then run ``threads`` clients (sync httpx: far cheaper per request than async)."""
    _poll(base_url, ids, first, step, time.perf_counter() + 0.5)
    until = time.perf_counter() + seconds
    with ThreadPoolExecutor(threads) as pool:
        runs = [pool.submit(_poll, base_url, ids, first + n, step, until) for n in range(threads)]
        out.put([x for run in runs for x in run.result()])


def run(args: argparse.Namespace) -> dict[str, Any]:
    process, base_url = start_emulator(args)
    try:
        ids = make_jobs(base_url, args.jobs)
        cpu_before = cpu_seconds(process.pid)
        threads = max(1, args.connections // args.client_procs)
        step = threads * args.client_procs
        queue: Any = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(
                target=_client_process,
                args=(base_url, ids, n * threads, threads, step, args.duration, queue),
            )
            for n in range(args.client_procs)
        ]
        for p in procs:
            p.start()
        parts = [queue.get(timeout=args.duration + 60) for _ in procs]
        for p in procs:
            p.join()
        # Every poll (warm-up included) was served: the server's own CPU cost per request.
        polls = httpx.get(f"{base_url}/_emulator/stats").json()["status_polls_total"]
        cpu_after = cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
    latencies = sorted(x for part in parts for x in part)
    q = statistics.quantiles(latencies, n=100)
    server_cpu_us = None
    if cpu_before is not None and cpu_after is not None and polls:
        server_cpu_us = round((cpu_after - cpu_before) / polls * 1e6)
    return {
        "http": args.http,
        "loop": args.loop,
        "connections": step,
        "client_procs": args.client_procs,
        "jobs": len(ids),
        "duration_s": args.duration,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / args.duration),
        "p50_ms": round(q[49] * 1000, 2),
        "p90_ms": round(q[89] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "server_cpu_us_per_request": server_cpu_us,
        "server_bound_requests_per_s": round(1e6 / server_cpu_us) if server_cpu_us else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of measured load")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--client-procs", type=int, default=2, help="load-generating processes")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs to poll")
    parser.add_argument("--rpm", type=int, default=100_000_000, help="emulator rate limit")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"status polls: {result['requests_per_s']} req/s over {result['duration_s']} s "
        f"({result['requests']} requests, "
        f"{result['connections']} connections in {result['client_procs']} process(es), "
        f"http={result['http']} loop={result['loop']})\n"
        f"latency: p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, "
        f"p99 {result['p99_ms']} ms\n"
        f"server CPU: {result['server_cpu_us_per_request']} us per request, so one core of the "
        f"emulator answers up to {result['server_bound_requests_per_s']} req/s"
    )


if __name__ == "__main__":
    main()

"""Batch throughput: N jobs through submit → result → stored object, at a plan's rate limit.

One emulator (its own process) with a plan limit per endpoint (status polls share one budget of
their own, as at Bria) and a latency distribution; every mode runs against it in turn, after a
reset (fresh counters and rate windows, the same seeded latency draws), and stores each result
write-once into its own temporary ``file://`` ObjectStore, streamed, with provenance.

Modes (``MODES``):

- ``a_client_fanout``: our ``AsyncBriaClient``: every job submitted under the client's shared
  limiter (``rate_limit_fraction`` of the plan), jobs waited for by ``as_completed`` (one polling
  loop per wave of submissions), each result downloaded and stored as it arrives.
- ``e_sdk_pool``: Bria's SDK ``bria-client`` 0.3.1 with its defaults: ``submit`` then ``poll``
  (every 1 s, 60 s timeout) in a thread pool of the same width.
- ``f_sdk_naive``: the SDK's ``run()`` (``sync: true``) one job after another, on
  ``--naive-jobs`` jobs; its makespan is scaled to N (per-job figures are not).

The ideal makespan is that of a perfect client: it submits exactly at the plan's rate
r = rpm / window (job k at k / r, k = 1..N) and learns of each result the instant it is ready, so
ideal = E[max_k (k / r + L_k)] with L_k drawn from the emulator's latency distribution (Monte
Carlo, 400 batches). It is printed as N / r plus the latency tail it adds. The emulator's window
is sliding, so a client bursting up to the limit at the start can beat it (ratio below 1); the
"sliding-window bound" (``window_bound``) is the makespan of a perfect client that does burst, a
true lower bound on this emulator, printed beside it.

    python benchmarks/batch_throughput.py                       # 600 jobs, 1000 rpm, lognormal 6 s
    python benchmarks/batch_throughput.py --smoke --json        # seconds, for CI
    python benchmarks/batch_throughput.py --modes a,e --jobs 300 --width 64
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import dagster_modes
import httpx
from _common import (
    EmulatorProcess,
    Figure,
    Report,
    api_requests,
    at_most_if,
    cpu_seconds,
    info,
    rounded,
    status_requests,
    total_429s,
)
from batch_mode import BenchSettings, Mode, ModeResult

from bria_dagster.client import AsyncBriaClient, BriaError, JobResult, Submission
from bria_dagster.emulator.latency import Distribution
from bria_dagster.ledger.hashing import canonical_payload_hash
from bria_dagster.storage import ObjectStore, StoredObject, object_key

ENDPOINT = "/v2/image/generate"
MAKESPAN_TARGET = 1.10
"""Makespan over the ideal, for our modes (a)-(d)."""
RATE_LIMITED_PER_1000_TARGET = 1.0
"""429s per 1,000 requests, for our modes."""
BOUND_TARGETS = {
    "a_client_fanout": 1.25,
    "b_inline_asset": 1.25,
    "c_deferred_sensor": 1.5,
    "d_deferred_webhooks": 1.5,
}
"""Issue 16: makespan over the sliding-window bound; (a) and (b) at 600 and 6,000 jobs, (c) and
(d) on a PostgreSQL Dagster instance (``--instance postgres``; reported on SQLite too)."""

WAVE_LINGER_S = 0.5
"""Mode (a): submissions are gathered this long into one ``as_completed`` wave."""
IDEAL_TRIALS = 400


def _key(settings: BenchSettings, mode: str, index: int) -> tuple[str, dict[str, Any]]:
    payload = settings.payload(index)
    return object_key(["bench", mode], None, canonical_payload_hash(ENDPOINT, payload), "png"), {
        "endpoint": ENDPOINT,
        "prompt": payload["prompt"],
        "seed": payload["seed"],
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# --- (a) our async client ------------------------------------------------------------------------


async def _client_fanout(settings: BenchSettings) -> ModeResult:
    store = ObjectStore.from_uri(settings.store_uri)
    n = settings.jobs
    # Submits wait for the rate limiter, downloads do not: sharing one semaphore let submits
    # queued for the next window hold every slot, and results waited for them to be stored.
    slots = asyncio.Semaphore(settings.width)
    download_slots = asyncio.Semaphore(settings.width)
    submitted: asyncio.Queue[tuple[int, Submission] | None] = asyncio.Queue()
    errors: list[str] = []
    created: list[StoredObject] = []
    storing: list[asyncio.Task[None]] = []
    phases: dict[str, float] = {}

    async with AsyncBriaClient(**settings.client_kwargs()) as bria:

        async def submit(index: int) -> None:
            try:
                async with slots:
                    job = await bria.submit(ENDPOINT, settings.payload(index))
            except BriaError as exc:
                errors.append(_describe(exc))
                submitted.put_nowait(None)
                return
            phases["last_submit_s"] = time.monotonic() - started
            submitted.put_nowait((index, job))

        async def keep(index: int, result: JobResult) -> None:
            key, provenance = _key(settings, "a_client_fanout", index)
            try:
                async with download_slots:
                    if not result.url:
                        raise RuntimeError("the result has no URL")
                    buffer = io.BytesIO()
                    await bria.download(result.url, buffer)
                    stored = await store.put_async(
                        key,
                        [buffer.getvalue()],
                        content_type="image/png",
                        provenance={**provenance, "request_id": result.request_id},
                    )
            except Exception as exc:
                errors.append(_describe(exc))
                return
            if stored.created:
                created.append(stored)

        async def watch(wave: list[tuple[int, Submission]]) -> None:
            async for outcome in bria.as_completed([job for _, job in wave]):
                index = wave[outcome.index][0]
                if outcome.error is not None:
                    errors.append(_describe(outcome.error))
                else:
                    assert outcome.result is not None
                    phases["last_result_s"] = time.monotonic() - started
                    storing.append(asyncio.create_task(keep(index, outcome.result)))

        started = time.monotonic()
        submitting = [asyncio.create_task(submit(i)) for i in range(n)]
        watching: list[asyncio.Task[None]] = []
        received = 0
        while received < n:
            wave = [await submitted.get()]
            await asyncio.sleep(WAVE_LINGER_S)
            while not submitted.empty():
                wave.append(submitted.get_nowait())
            received += len(wave)
            jobs = [item for item in wave if item is not None]
            if jobs:
                watching.append(asyncio.create_task(watch(jobs)))
        await asyncio.gather(*submitting, *watching)
        await asyncio.gather(*storing)
        makespan = time.monotonic() - started
        usage = bria.usage().as_dict()
    return ModeResult(n, len(created), n - len(created), makespan, errors[:5], usage, phases)


def client_fanout(settings: BenchSettings) -> ModeResult:
    """(a) our AsyncBriaClient: submit all under the limiter, ``as_completed``, download, store."""
    return asyncio.run(_client_fanout(settings))


# --- (e) and (f): Bria's SDK ---------------------------------------------------------------------


def _sdk_keep(
    settings: BenchSettings,
    store: ObjectStore,
    downloads: httpx.Client,
    mode: str,
    index: int,
    request_id: str,
    url: str,
) -> StoredObject:
    """Stream a result into the store, as a user of the SDK would with httpx."""
    key, provenance = _key(settings, mode, index)
    with downloads.stream("GET", url) as response:
        response.raise_for_status()
        return store.put(
            key,
            response.iter_bytes(),
            content_type="image/png",
            provenance={**provenance, "request_id": request_id},
        )


def _sdk_result_url(response: Any) -> str:
    if response.error is not None or response.result is None or not response.result.image_url:
        raise RuntimeError(f"no result: {response.error or response.status}")
    return str(response.result.image_url)


def sdk_pool(settings: BenchSettings) -> ModeResult:
    """(e) Bria's SDK with its defaults: ``submit`` + ``poll`` in a thread pool of ``width``."""
    from bria_client import BriaSyncClient

    store = ObjectStore.from_uri(settings.store_uri)
    endpoint = ENDPOINT.removeprefix("/v2/")
    errors: list[str] = []
    created = 0
    with (
        BriaSyncClient(base_url=settings.base_url, api_token=settings.token) as sdk,
        httpx.Client(timeout=60) as downloads,
    ):

        def one(index: int) -> StoredObject:
            submitted = sdk.submit(endpoint, settings.payload(index))
            if submitted.error is not None:
                raise RuntimeError(f"submit failed: {submitted.error.code} {submitted.error}")
            final = sdk.poll(submitted)  # defaults: every 1 s, 60 s timeout, raise on error
            url = _sdk_result_url(final)
            return _sdk_keep(
                settings, store, downloads, "e_sdk_pool", index, submitted.request_id, url
            )

        started = time.monotonic()
        with ThreadPoolExecutor(settings.width) as pool:
            futures = [pool.submit(one, i) for i in range(settings.jobs)]
            for future in as_completed(futures):
                try:
                    created += future.result().created
                except Exception as exc:
                    errors.append(_describe(exc))
        makespan = time.monotonic() - started
    return ModeResult(settings.jobs, created, settings.jobs - created, makespan, errors[:5])


def sdk_naive(settings: BenchSettings) -> ModeResult:
    """(f) the naive loop: the SDK's ``run()`` (sync), one job after another, then store."""
    from bria_client import BriaSyncClient

    store = ObjectStore.from_uri(settings.store_uri)
    endpoint = ENDPOINT.removeprefix("/v2/")
    errors: list[str] = []
    created = 0
    n = min(settings.naive_jobs, settings.jobs)
    with (
        BriaSyncClient(base_url=settings.base_url, api_token=settings.token) as sdk,
        httpx.Client(timeout=60) as downloads,
    ):
        started = time.monotonic()
        for index in range(n):
            try:
                done = sdk.run(endpoint, settings.payload(index))
                url = _sdk_result_url(done)
                stored = _sdk_keep(
                    settings, store, downloads, "f_sdk_naive", index, done.request_id, url
                )
                created += stored.created
            except Exception as exc:
                errors.append(_describe(exc))
        makespan = time.monotonic() - started
    return ModeResult(n, created, n - created, makespan, errors[:5])


# --- the registry --------------------------------------------------------------------------------

MODES: dict[str, Mode] = {
    "a_client_fanout": client_fanout,
    "b_inline_asset": dagster_modes.inline_asset,
    "c_deferred_sensor": dagster_modes.deferred_sensor,
    "d_deferred_webhooks": dagster_modes.deferred_webhooks,
    "e_sdk_pool": sdk_pool,
    "f_sdk_naive": sdk_naive,
}

OUR_MODES: dict[str, float] = {
    "a_client_fanout": 1.3,
    "b_inline_asset": 1.3,
    "c_deferred_sensor": 2.0,
    "d_deferred_webhooks": 0.0,
}
"""Our modes and their target of status calls per job (issue 16: at most 1.3 for (a) and
(b)); targets apply only to these."""
BASELINE = "e_sdk_pool"
"""The mode every other is compared with."""
SCALED_MODES = frozenset({"f_sdk_naive"})
"""Modes that run ``naive_jobs`` and have their makespan scaled to ``jobs``."""


# --- the ideal -----------------------------------------------------------------------------------


def ideal_makespan(
    jobs: int, rate_per_s: float, latency: str, *, trials: int = IDEAL_TRIALS, seed: int = 0
) -> tuple[float, float]:
    """E[max_k (k / r + L_k)] by Monte Carlo, and the tail it adds to N / r (seconds)."""
    dist = Distribution.parse(latency)
    rng = random.Random(seed)
    spans = [
        max(k / rate_per_s + dist.draw(rng) for k in range(1, jobs + 1)) for _ in range(trials)
    ]
    ideal = statistics.fmean(spans)
    return ideal, ideal - jobs / rate_per_s


def window_bound(
    jobs: int,
    limit: int,
    window_s: float,
    latency: str,
    *,
    trials: int = IDEAL_TRIALS,
    seed: int = 0,
) -> float:
    """The makespan of a perfect client under the emulator's sliding window as it is.

    Up to ``limit`` submits, and separately ``limit`` status polls, per window, sent at once:
    submit k at floor((k - 1) / limit) * window, one poll per job, the j-th poll (in order of
    completion) no earlier than its job's end nor floor((j - 1) / limit) * window. A batch
    within the limit goes out at t = 0, so this is E[max L_k] for it: below the fluid ideal.
    """
    dist = Distribution.parse(latency)
    rng = random.Random(seed)
    spans = []
    for _ in range(trials):
        ends = sorted((k // limit) * window_s + dist.draw(rng) for k in range(jobs))
        spans.append(max(max(end, (j // limit) * window_s) for j, end in enumerate(ends)))
    return statistics.fmean(spans)


# --- the harness ---------------------------------------------------------------------------------


def run_mode(
    name: str, mode: Mode, settings: BenchSettings, emulator: EmulatorProcess
) -> dict[str, Any]:
    """Run one mode on a reset emulator; its result with the emulator's counters."""
    emulator.reset()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as scratch:
        store = Path(scratch, "store")
        store.mkdir()
        mode_settings = replace(
            settings,
            base_url=emulator.base_url,
            token=f"bench-{name}-{uuid.uuid4().hex}",
            store_uri=store.as_uri(),
            scratch=scratch,
        )
        emulator_cpu = cpu_seconds(emulator.pid)
        client_cpu = time.process_time()
        result = mode(mode_settings)
        client_cpu = time.process_time() - client_cpu
        emulator_cpu_after = cpu_seconds(emulator.pid)
        on_disk = sum(1 for p in store.rglob("*.png"))
    stats = emulator.stats()
    if emulator_cpu is not None and emulator_cpu_after is not None:
        emulator_cpu = emulator_cpu_after - emulator_cpu
    scale = settings.jobs / result.jobs if name in SCALED_MODES and result.jobs else 1.0
    requests = api_requests(stats)
    rate_limited = total_429s(stats)
    return {
        **asdict(result),
        "objects_on_disk": on_disk,
        "emulator_cpu_s": emulator_cpu,
        "client_cpu_s": client_cpu,
        "client_cpu_ms_per_job": 1000 * client_cpu / result.jobs if result.jobs else None,
        "scaled_to": settings.jobs if scale != 1.0 else None,
        "makespan_scaled_s": result.makespan_s * scale,
        "requests": requests,
        "submits": sum(stats.get("submits", {}).values()),
        "rate_limited": rate_limited,
        "rate_limited_by_endpoint": stats.get("rate_limited", {}),
        "rate_limited_per_1000": 1000 * rate_limited / requests if requests else 0.0,
        "status_calls": status_requests(stats),
        "status_calls_per_job": status_requests(stats) / result.jobs if result.jobs else None,
    }


def figures_for(
    name: str,
    run: dict[str, Any],
    ideal_s: float,
    bound_s: float,
    baseline: dict[str, Any] | None,
) -> list[Figure]:
    """The table rows of one mode (targets apply to our modes only)."""
    ours = name in OUR_MODES
    makespan = run["makespan_scaled_s"]
    polls = rounded(run["status_calls_per_job"])
    notes = [f"scaled from {run['jobs']} jobs"] if run["scaled_to"] else []
    for phase, seconds in run["phases"].items():
        notes.append(f"{phase.removesuffix('_s').replace('_', ' ')} {seconds:.1f} s")
    rows = [
        info(f"{name} makespan", rounded(makespan, 1), "s", "; ".join(notes)),
        at_most_if(ours, f"{name} makespan / ideal", round(makespan / ideal_s, 3), MAKESPAN_TARGET),
        at_most_if(
            name in BOUND_TARGETS,
            f"{name} makespan / sliding-window bound",
            round(makespan / bound_s, 3),
            BOUND_TARGETS.get(name, 0.0),
        ),
        at_most_if(
            ours,
            f"{name} 429s per 1,000 requests",
            round(run["rate_limited_per_1000"], 2),
            RATE_LIMITED_PER_1000_TARGET,
            note=f"{run['rate_limited']} of {run['requests']} requests",
        ),
        at_most_if(ours, f"{name} status calls per job", polls, OUR_MODES.get(name, 0.0)),
        info(
            f"{name} client CPU per job",
            rounded(run["client_cpu_ms_per_job"], 2),
            "ms",
            "this process: submit, poll, download, store (and for (b)-(d) the Dagster run)",
        ),
        at_most_if(ours, f"{name} failed jobs", run["failed"], 0, note=f"of {run['jobs']}"),
    ]
    if baseline is not None and name != BASELINE:
        base = baseline["makespan_scaled_s"]
        rows.append(
            info(f"{name} makespan vs {BASELINE}", round(makespan / base, 3) if base else None)
        )
        base_polls = baseline["status_calls_per_job"]
        if base_polls and run["status_calls_per_job"] is not None:
            rows.append(
                info(
                    f"{name} status calls vs {BASELINE}",
                    round(run["status_calls_per_job"] / base_polls, 3),
                )
            )
    return rows


def select_modes(text: str) -> list[str]:
    """Mode names from ``a,e`` / ``a_client_fanout`` / ``all`` (registry order)."""
    if text.strip() == "all":
        return list(MODES)
    chosen: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        matches = [name for name in MODES if name == part or name.split("_", 1)[0] == part]
        if not matches:
            raise ValueError(f"--modes: unknown mode {part!r}; choose from {', '.join(MODES)}")
        chosen += [m for m in matches if m not in chosen]
    return [name for name in MODES if name in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=600, help="N, jobs per mode")
    parser.add_argument("--width", type=int, default=32, help="jobs in flight (SDK threads)")
    parser.add_argument("--rpm", type=int, default=1000, help="plan limit per endpoint")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    parser.add_argument("--latency", default="lognormal:6,0.5", help="job latency distribution")
    parser.add_argument("--seed", type=int, default=1, help="emulator seed")
    parser.add_argument("--naive-jobs", type=int, default=6, help="jobs of the naive loop")
    parser.add_argument("--rate-limit-fraction", type=float, default=0.9)
    parser.add_argument("--rate-limit-backend", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--poll-first-factor", type=float, default=1.0, help="our client's")
    parser.add_argument("--output-megapixels", type=float, default=0.25, help="emulator images")
    parser.add_argument("--modes", default="all", help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument(
        "--instance",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="Dagster instance of (b)-(d): SQLite files, or a fresh PostgreSQL database",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="12 jobs, 2 naive, latency ~0.3 s, early polls: a few seconds, for CI",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    if args.smoke:
        args.jobs, args.naive_jobs, args.width = 12, 2, 4
        args.latency, args.poll_first_factor = "lognormal:0.3,0.5", 0.05
    try:
        modes = select_modes(args.modes)
        Distribution.parse(args.latency)
    except ValueError as exc:
        parser.error(str(exc))
    for name, value in (("--jobs", args.jobs), ("--width", args.width), ("--rpm", args.rpm)):
        if value < 1:
            parser.error(f"{name}: must be at least 1")

    settings = BenchSettings(
        jobs=args.jobs,
        width=args.width,
        plan_rpm=args.rpm,
        window_s=args.window,
        latency=args.latency,
        seed=args.seed,
        naive_jobs=args.naive_jobs,
        rate_limit_fraction=args.rate_limit_fraction,
        rate_limit_backend=args.rate_limit_backend,
        poll_first_factor=args.poll_first_factor,
        output_megapixels=args.output_megapixels,
        dagster_instance=args.instance,
    )
    rate = settings.plan_rpm / settings.window_s
    ideal, tail = ideal_makespan(settings.jobs, rate, settings.latency)
    report = Report(
        "batch_throughput",
        f"Batch throughput: {settings.jobs} jobs, {settings.plan_rpm} requests per "
        f"{settings.window_s:g} s per endpoint, latency {settings.latency}, width {settings.width}",
        {
            k: v
            for k, v in asdict(settings).items()
            if k not in ("base_url", "token", "store_uri", "scratch")
        },
    )
    bound = window_bound(settings.jobs, settings.plan_rpm, settings.window_s, settings.latency)
    report.figures += [
        info(
            "ideal makespan",
            round(ideal, 1),
            "s",
            f"N / r = {settings.jobs / rate:.1f} s + latency tail {tail:.1f} s",
        ),
        info(
            "sliding-window bound",
            round(bound, 1),
            "s",
            "perfect client bursting to the limit (see window_bound)",
        ),
    ]
    runs: dict[str, dict[str, Any]] = {}
    with EmulatorProcess(
        rpm=settings.plan_rpm,
        window_s=settings.window_s,
        latency=settings.latency,
        seed=settings.seed,
        output_megapixels=settings.output_megapixels,
    ) as emulator:
        # The baseline first, so the others can be compared with it as they are printed.
        for name in sorted(modes, key=lambda m: m != BASELINE):
            print(f"running {name} ...", flush=True)
            runs[name] = run_mode(name, MODES[name], settings, emulator)
            print(
                f"  {runs[name]['makespan_s']:.1f} s, {runs[name]['stored']} stored, "
                f"{runs[name]['failed']} failed, {runs[name]['rate_limited']} 429s",
                flush=True,
            )
    baseline = runs.get(BASELINE)
    for name in modes:
        report.figures += figures_for(name, runs[name], ideal, bound, baseline)
    report.details = {
        "ideal_makespan_s": ideal,
        "window_bound_s": bound,
        "ideal_tail_s": tail,
        "rate_per_s": rate,
        "modes": runs,
    }
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

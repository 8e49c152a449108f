"""Sensor at scale: ticks of the result sensor over a ledger holding 10,000 pending requests.

Set-up (not measured): the emulator runs in its own process at the plan limit (default 1000 rpm
per endpoint, status polls included). The backlog: N requests submitted at the plan's rate, the
last one ``--gap`` seconds ago (one sensor interval), each ending ``--latency`` after its submit
(lognormal, median 6 s), except a ``--long-share`` (default none) that runs for an hour (video,
training). ``POST /_emulator/jobs`` creates those jobs (their result: one 1152x864 PNG uploaded
to the emulator), and the ledger (SQLite file, or ``--ledger-url``) gets one ``pending`` row per
job through ``Ledger.bulk_insert_pending``, with the payload hash and summary the deferred step
plans for its partition, due at the client's first poll. The Dagster instance is a real local
one (SQLite) holding the N dynamic partitions.

Measured: ticks of the real sensor (``build_bria_result_sensor`` over a ``bria_deferred_asset``
with a downstream inline step, default ``TickLimits`` with ``default_tick_budget()``), each
evaluated with ``dg.build_sensor_context`` + ``evaluate_tick`` as the daemon's code server does
(resources set up and torn down per tick, so the client's limiter is read from its SQLite
file), the cursor fed back, events then persisted with ``report_runless_asset_event`` (timed
apart: the daemon does that outside the sensor's time limit). Ticks run back to back unless
``--interval`` is given: the harshest case for the status budget (0.9 x rpm per minute, a
sliding window, shared by the ticks through the limiter's SQLite file), which a tick waits for
up to its deadline. Per tick: wall and process CPU time of the evaluation, status polls the
emulator received, entries completed / stored / reported, and the process's peak RSS (VmHWM,
reset before each tick through /proc/self/clear_refs, so it is that tick's peak).

Targets (issue 8): every tick under 30 s wall and its memory under 200 MB; none over the
sensor's 60 s time limit.

Reporting rate (issue 16): ``--instance postgres`` keeps the Dagster instance in a fresh
PostgreSQL database (dropped at the end), ``--webhooked`` leaves every job ``completed`` in
the ledger as the webhook receiver would (no status poll is needed, so the plan's status
budget does not set the pace), and ``--max-stores`` lifts the per-tick cap. The figures
"reported images a second" (reported ÷ tick wall + event persisting; target >= 50 on
PostgreSQL) and "events written per reported image" then say what the sensor sustains.

    python benchmarks/sensor_scale.py                       # 10,000 pending, 5 ticks
    python benchmarks/sensor_scale.py --smoke --json        # 12 pending, 2 ticks, for CI
    python benchmarks/sensor_scale.py --long-share 0.2 --ticks 12   # some jobs run for an hour
    python benchmarks/sensor_scale.py --ledger-url postgresql+psycopg://postgres@127.0.0.1/bench
    python benchmarks/sensor_scale.py --instance postgres --webhooked --pending 2000 \
        --max-stores 500 --ledger-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import sqlalchemy as sa
from _common import (
    EmulatorProcess,
    Report,
    at_least,
    at_most,
    dagster_instance,
    info,
    rounded,
    status_requests,
    total_429s,
)
from PIL import Image
from storage_streaming import reset_peak, rss_kib

from bria_dagster.assets import BriaImageIOManager, StepInput, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.assets.plan import plan_step
from bria_dagster.client.polling import PollSchedule
from bria_dagster.client.types.editing import RemoveBackgroundRequest
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.emulator.latency import Distribution
from bria_dagster.ledger import EntryState, Ledger, PendingRow
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor, default_tick_budget

REPORTED_PER_S_TARGET = 50.0
"""Issue 16: images the sensor stores and reports a second, on a PostgreSQL instance."""
TARGET_TICK_WALL_S = 30.0
TARGET_TICK_RSS_MB = 200.0
SENSOR_TIME_LIMIT_S = 60.0
DAEMON_INTERVAL_S = 30.0
"""``build_bria_result_sensor``'s default ``minimum_interval_seconds``."""
ASSET = "product_photo"
PARTITIONS = "products"
LONG_RUNNING_S = 3600.0
IMAGE_SIZE = (1152, 864)
"""The 4:3 size of a 1 MP generation (the checks compare the stored image with 4:3)."""


def product_request(step: StepInput) -> GenerateImageRequest:
    """The deferred step's request for one product partition."""
    number = int((step.partition_key or "0").rsplit("-", 1)[-1])
    return GenerateImageRequest(
        prompt=f"studio photo of product {number} on a white background",
        aspect_ratio="4:3",
        seed=number,
    )


def result_png() -> bytes:
    """A deterministic, photo-sized PNG (smooth gradients, like a generated image compresses)."""
    red = Image.linear_gradient("L").resize(IMAGE_SIZE)
    green = Image.radial_gradient("L").resize(IMAGE_SIZE)
    blue = red.transpose(Image.Transpose.ROTATE_180)
    buffer = io.BytesIO()
    Image.merge("RGB", (red, green, blue)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Backlog:
    """When each of the N requests was submitted and how long Bria still needs for it."""

    submitted_at: list[float]
    remaining_s: list[float]
    """Seconds from now until the job reads COMPLETED (0: already finished)."""

    @classmethod
    def plan(
        cls,
        pending: int,
        rpm: int,
        gap_s: float,
        latency: Distribution,
        long_share: float,
        seed: int,
    ) -> Backlog:
        """Submitted at the plan's rate until ``gap_s`` ago; each job ends ``latency`` after its
        submit, except a ``long_share`` (spread through the backlog) that runs for an hour."""
        rng = random.Random(seed)
        now = time.time()
        spacing = 60.0 / rpm
        last = now - gap_s
        submitted = [last - (pending - 1 - index) * spacing for index in range(pending)]
        remaining = [max(0.0, at + latency.draw(rng) - now) for at in submitted]
        for index in rng.sample(range(pending), round(pending * long_share)):
            remaining[index] = LONG_RUNNING_S
        return cls(submitted, remaining)


def create_jobs(base_url: str, backlog: Backlog) -> tuple[list[str], dict[str, str]]:
    """The backlog's jobs in the emulator (one shared result image); their request ids and
    that result."""
    by_latency: dict[float, list[int]] = {}
    for index, remaining in enumerate(backlog.remaining_s):
        by_latency.setdefault(round(remaining, 1), []).append(index)
    ids = [""] * len(backlog.remaining_s)
    with httpx.Client(base_url=base_url, timeout=120) as admin:
        uploaded = admin.post(
            "/_emulator/files",
            params={"content_type": "image/png", "ext": "png"},
            content=result_png(),
        )
        uploaded.raise_for_status()
        result = {"image_url": uploaded.json()["url"]}
        for latency, indexes in by_latency.items():
            answer = admin.post(
                "/_emulator/jobs",
                json={"count": len(indexes), "latency_s": latency, "result": result},
            )
            answer.raise_for_status()
            for index, request_id in zip(indexes, answer.json()["request_ids"], strict=True):
                ids[index] = request_id
    return ids, result


def complete_as_webhooks_would(
    ledger: Ledger, request_ids: list[str], result: dict[str, str]
) -> None:
    """Mark every job ``completed`` with its result, as the webhook receiver does."""
    for request_id in request_ids:
        ledger.mark_completed(request_id, {**result, "seed": 1}, result["image_url"])


def fill_ledger(
    ledger: Ledger, request_ids: list[str], backlog: Backlog, first_poll_s: float
) -> list[str]:
    """One ``pending`` row per job, as the deferred step would have left it; the partitions."""
    keys: list[str] = []
    rows: list[PendingRow] = []
    for index, request_id in enumerate(request_ids):
        key = f"sku-{index:05d}"
        (job,) = plan_step(product_request(StepInput(ASSET, key)), StepInput(ASSET, key))
        submitted = backlog.submitted_at[index]
        rows.append(
            PendingRow(
                asset_key=ASSET,
                partition_key=key,
                endpoint=job.endpoint,
                payload_hash=job.payload_hash,
                request_id=request_id,
                submitted_at=submitted,
                next_poll_at=submitted + first_poll_s,
                request_summary=job.summary,
                run_id="benchmark-submit-run",
            )
        )
        keys.append(key)
    ledger.bulk_insert_pending(rows)
    return keys


@dataclass
class TickFigures:
    """What one tick did and cost."""

    tick: int
    wall_s: float
    cpu_s: float
    persist_s: float
    peak_rss_mb: float
    polls: int
    rate_limited: int
    completed: int
    stored: int
    reported: int
    run_requests: int
    pending_after: int
    due_after: int
    completed_waiting: int
    """Entries completed at Bria but not yet stored, after the tick."""
    events: int = 0
    """Events the tick handed to Dagster (materializations, check evaluations, observations)."""
    persist_cpu_s: float = 0.0
    """Process CPU time of persisting those events (Dagster's and the database driver's)."""


def run_ticks(
    *,
    emulator: EmulatorProcess,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    ledger: Ledger,
    ticks: int,
    interval_s: float,
    limits: TickLimits,
) -> list[TickFigures]:
    """Evaluate ``ticks`` ticks of the sensor, persisting events and feeding the cursor back."""
    products = dg.DynamicPartitionsDefinition(name=PARTITIONS)
    photo = bria_deferred_asset(ASSET, product_request, partitions_def=products, retry_policy=None)
    cutout = bria_asset(
        "cutout",
        lambda step: RemoveBackgroundRequest(image=step.image.data),
        upstream=photo,
        partitions_def=products,
        retry_policy=None,
    )
    sensor = build_bria_result_sensor([photo], downstream=[cutout], limits=limits)
    defs = dg.Definitions(assets=[*photo, cutout], sensors=[sensor], resources=resources)
    # The daemon's context carries the instance's ref: Dagster loads dynamic partitions with it.
    instance_ref = instance.get_ref()
    cursor: str | None = None
    figures: list[TickFigures] = []
    for number in range(1, ticks + 1):
        counts = ledger.counts()
        stats = emulator.stats()
        reset_peak()
        started_at = time.monotonic()
        cpu_started = time.process_time()
        with dg.build_sensor_context(
            instance=instance,
            instance_ref=instance_ref,
            resources=resources,
            cursor=cursor,
            definitions=defs,
        ) as context:
            data = sensor.evaluate_tick(context)
        cpu = time.process_time() - cpu_started
        wall = time.monotonic() - started_at
        peak_kib = rss_kib("VmHWM")
        persisting = time.monotonic()
        persisting_cpu = time.process_time()
        events = data.asset_events or []
        for event in events:
            instance.report_runless_asset_event(event)
        persist = time.monotonic() - persisting
        persist_cpu = time.process_time() - persisting_cpu
        cursor = data.cursor
        after = ledger.counts()
        stats_after = emulator.stats()
        pending, due = ledger.backlog([ASSET])
        tick = TickFigures(
            tick=number,
            wall_s=wall,
            cpu_s=cpu,
            persist_s=persist,
            peak_rss_mb=peak_kib / 1024,
            polls=status_requests(stats_after) - status_requests(stats),
            rate_limited=total_429s(stats_after) - total_429s(stats),
            completed=counts[EntryState.PENDING] - after[EntryState.PENDING],
            stored=after[EntryState.STORED] - counts[EntryState.STORED],
            reported=sum(isinstance(e, dg.AssetMaterialization) for e in events),
            run_requests=len(data.run_requests or []),
            pending_after=pending,
            due_after=due,
            completed_waiting=after[EntryState.COMPLETED],
            events=len(events),
            persist_cpu_s=persist_cpu,
        )
        figures.append(tick)
        print(_tick_line(tick), flush=True)
        if interval_s and number < ticks:
            time.sleep(max(0.0, started_at + interval_s - time.monotonic()))
    return figures


TICK_HEAD = (
    "tick   wall s   CPU s  persist s  peak RSS MB  polls  429s  completed  stored  "
    "reported  runs  pending  due"
)


def _tick_line(t: TickFigures) -> str:
    return (
        f"{t.tick:>4}  {t.wall_s:>7.2f}  {t.cpu_s:>6.2f}  {t.persist_s:>9.2f}  "
        f"{t.peak_rss_mb:>11.1f}  {t.polls:>5}  {t.rate_limited:>4}  {t.completed:>9}  "
        f"{t.stored:>6}  {t.reported:>8}  {t.run_requests:>4}  {t.pending_after:>7}  "
        f"{t.due_after:>4}"
    )


def summarize(
    report: Report,
    ticks: list[TickFigures],
    baseline_mb: float,
    pending: int,
    on_postgres: bool = False,
) -> None:
    """The figures of the whole run, with their targets."""
    walls = [t.wall_s for t in ticks]
    reporting = [t for t in ticks if t.reported]
    reported = sum(t.reported for t in reporting)
    spent = sum(t.wall_s + t.persist_s for t in reporting)
    cpu = sum(t.cpu_s + t.persist_cpu_s for t in reporting)
    events = sum(t.events for t in reporting)
    persisting = sum(t.persist_s for t in reporting)
    persisting_cpu = sum(t.persist_cpu_s for t in reporting)
    over_limit = sum(w > SENSOR_TIME_LIMIT_S for w in walls)
    slowest = max(ticks, key=lambda t: t.wall_s)
    report.figures += [
        at_most(
            "slowest tick wall",
            rounded(slowest.wall_s),
            TARGET_TICK_WALL_S,
            "s",
            f"tick {slowest.tick}: {slowest.polls} polls, {slowest.stored} stored",
        ),
        at_most(
            "ticks over the sensor time limit (60 s)",
            over_limit,
            0,
            note=f"tick budget {default_tick_budget():g} s",
        ),
        at_most(
            "peak RSS during a tick",
            rounded(max(t.peak_rss_mb for t in ticks), 1),
            TARGET_TICK_RSS_MB,
            "MB",
            "whole process: Python, Dagster, the instance",
        ),
        info(
            "RSS added by ticks over the baseline",
            rounded(max(t.peak_rss_mb for t in ticks) - baseline_mb, 1),
            "MB",
            f"baseline {baseline_mb:.1f} MB after imports and set-up",
        ),
        info("median tick wall", rounded(sorted(walls)[len(walls) // 2]), "s"),
        info("slowest tick CPU", rounded(max(t.cpu_s for t in ticks)), "s", "process time"),
        info(
            "slowest event persisting",
            rounded(max(t.persist_s for t in ticks)),
            "s",
            "report_runless_asset_event, outside the sensor call",
        ),
        (at_least if on_postgres else info)(  # type: ignore[operator]
            "reported images a second",
            rounded(reported / spent if spent else None, 1),
            *((REPORTED_PER_S_TARGET,) if on_postgres else ()),
            note=f"{reported} over {spent:.1f} s of tick wall + event persisting",
        ),
        info(
            "reported images per CPU second",
            rounded(reported / cpu if cpu else None, 1),
            note=f"tick CPU + persisting CPU {cpu:.1f} s in this process (the database server's "
            "own CPU not counted): what one free core sustains",
        ),
        info(
            "tick wall per reported image",
            rounded(1000 * sum(t.wall_s for t in reporting) / reported if reported else None, 1),
            "ms",
            "the sensor's evaluation: stores, read-back, checks, metadata, run requests",
        ),
        info(
            "event persisting per event",
            rounded(1000 * persisting / events if events else None, 1),
            "ms",
            f"wall; CPU in this process {1000 * persisting_cpu / events if events else 0:.1f} ms "
            "(the daemon writes a sensor's events one at a time)",
        ),
        info(
            "events written per reported image",
            rounded(sum(t.events for t in reporting) / reported if reported else None, 2),
            note="a materialization and a check evaluation per check",
        ),
        info("status polls (all ticks)", sum(t.polls for t in ticks)),
        info("429s received", sum(t.rate_limited for t in ticks)),
        info("entries completed (all ticks)", sum(t.completed for t in ticks)),
        info("entries stored (all ticks)", sum(t.stored for t in ticks)),
        info("entries reported (all ticks)", sum(t.reported for t in ticks)),
        info("pending left", ticks[-1].pending_after, note=f"of {pending:,}"),
        info(
            "completed, waiting to be stored",
            ticks[-1].completed_waiting,
            note=f"at most {TickLimits().max_stores} stores per tick",
        ),
        info(
            "time to store the whole backlog (estimate)",
            rounded(_drain_minutes(ticks, pending), 1),
            "min",
            f"at the mean stores per tick, one tick per {DAEMON_INTERVAL_S:g} s or per tick wall",
        ),
    ]
    report.details = {"ticks": [asdict(t) for t in ticks], "baseline_rss_mb": baseline_mb}


def _drain_minutes(ticks: list[TickFigures], pending: int) -> float | None:
    stored = sum(t.stored for t in ticks) / len(ticks)
    if not stored:
        return None
    period = max(DAEMON_INTERVAL_S, sum(t.wall_s for t in ticks) / len(ticks))
    return pending / stored * period / 60


def drop_schema(url: str, schema: str) -> None:
    """Drop the benchmark's own schema (and its ledger table) from a database server."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=10_000, help="pending requests")
    parser.add_argument("--ticks", type=int, default=5, help="sensor ticks to evaluate")
    parser.add_argument("--rpm", type=int, default=1000, help="plan limit per endpoint")
    parser.add_argument("--latency", default="lognormal:6,0.5", help="job latency after its submit")
    parser.add_argument(
        "--gap", type=float, default=30.0, help="seconds since the last submit of the backlog"
    )
    parser.add_argument(
        "--long-share",
        type=float,
        default=0.0,
        help="share of jobs running for an hour (video, training), spread through the backlog",
    )
    parser.add_argument(
        "--interval", type=float, default=0.0, help="seconds between tick starts (0: back to back)"
    )
    parser.add_argument(
        "--ledger-url",
        help="a ledger database (default: a SQLite file in a temp folder); on a server the "
        "benchmark works in a schema of its own and drops it at the end",
    )
    parser.add_argument(
        "--instance",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="Dagster's storage: a local SQLite instance, or a fresh PostgreSQL database",
    )
    parser.add_argument(
        "--webhooked",
        action="store_true",
        help="every job completed in the ledger, as webhooks leave them (no status polls)",
    )
    parser.add_argument(
        "--max-stores",
        type=int,
        default=TickLimits().max_stores,
        help="stores (and reports) a tick",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of latencies and samples")
    parser.add_argument("--smoke", action="store_true", help="12 pending, 2 ticks, for CI")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pending, args.ticks = 12, 2
    if args.pending < 1 or args.ticks < 1 or args.rpm < 1:
        parser.error("--pending, --ticks and --rpm: at least 1")
    if not 0 <= args.long_share <= 1:
        parser.error("--long-share: between 0 and 1")
    try:
        latency = Distribution.parse(args.latency)
    except ValueError as exc:
        parser.error(f"--latency: {exc}")
    if args.interval < 0 or args.gap < 0:
        parser.error("--interval and --gap: at least 0")

    settings = {
        "pending": args.pending,
        "ticks": args.ticks,
        "rpm": args.rpm,
        "latency": args.latency,
        "gap_s": args.gap,
        "long_share": args.long_share,
        "interval_s": args.interval,
        "tick_budget_s": default_tick_budget(),
        "ledger": (args.ledger_url or "sqlite").split(":", 1)[0],
        "instance": args.instance,
        "webhooked": args.webhooked,
        "max_stores": args.max_stores,
    }
    limits = TickLimits(
        budget_s=default_tick_budget(),
        max_stores=args.max_stores,
        max_reports=max(args.max_stores, TickLimits().max_reports),
    )
    report = Report("sensor_scale", "Sensor at scale: result-sensor ticks", settings)
    with (
        tempfile.TemporaryDirectory(prefix="bench-sensor-") as scratch,
        EmulatorProcess(rpm=args.rpm, latency="fixed:0", seed=args.seed) as emulator,
    ):
        folder = Path(scratch)
        bria = BriaResource(
            api_token=f"bench-sensor-{uuid.uuid4().hex}",
            base_url=emulator.base_url,
            requests_per_minute=args.rpm,
            rate_limit_backend=f"sqlite:///{folder / 'ratelimit.sqlite'}",
        )
        ledger_url = args.ledger_url or f"sqlite:///{folder / 'ledger.db'}"
        # On a server, a schema of its own, dropped at the end: the database is left as it was.
        schema = None if ledger_url.startswith("sqlite") else f"bench_sensor_{uuid.uuid4().hex[:8]}"
        resources: dict[str, Any] = {
            "bria": bria,
            "bria_storage": BriaStorageResource(uri=(folder / "images").as_uri()),
            "bria_ledger": BriaLedgerResource(url=ledger_url, db_schema=schema),
            "bria_io_manager": BriaImageIOManager(
                storage=BriaStorageResource(uri=(folder / "images").as_uri())
            ),
        }
        ledger = Ledger.from_url(ledger_url, schema=schema)
        try:
            first_poll = PollSchedule.for_endpoint(
                "/v2/image/generate", bria.client_settings()
            ).next_delay(0)
            print(f"set-up: {args.pending:,} jobs in the emulator, ledger rows...", flush=True)
            backlog = Backlog.plan(
                args.pending, args.rpm, args.gap, latency, args.long_share, args.seed
            )
            request_ids, result = create_jobs(emulator.base_url, backlog)
            keys = fill_ledger(ledger, request_ids, backlog, first_poll)
            if args.webhooked:
                complete_as_webhooks_would(ledger, request_ids, result)
            home = folder / "dagster_home"
            home.mkdir()
            with dagster_instance(home, args.instance) as instance:
                instance.add_dynamic_partitions(PARTITIONS, keys)
                baseline_mb = rss_kib() / 1024
                print(TICK_HEAD, flush=True)
                ticks = run_ticks(
                    emulator=emulator,
                    instance=instance,
                    resources=resources,
                    ledger=ledger,
                    ticks=args.ticks,
                    interval_s=args.interval,
                    limits=limits,
                )
        finally:
            ledger.dispose()
            if schema is not None:
                drop_schema(ledger_url, schema)
    summarize(report, ticks, baseline_mb, args.pending, args.instance == "postgres")
    report.emit(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The headline table of ``run_all.py``: issue 16's targets, one row per mode, from one run.

Columns: the mode, its makespan as a multiple of the sliding-window bound measured in the same
run (``batch_throughput.window_bound``), status polls per job, 429s, and the client's CPU per job.
Each cell carries its verdict against the issue's target; a row whose benchmark did not run says
so. The rows are read from the figures the scripts printed, by name, so this module measures
nothing itself.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BOUND_TARGET = 1.25
"""Modes (a) and (b): the client, and the inline asset."""
DAGSTER_BOUND_TARGET = 1.5
"""Modes (c) and (d) on a PostgreSQL instance (issue 16), and the daemon-launched backfill of
600 partitions, batched (issue 19)."""
REPORTED_PER_S_TARGET = 50.0
"""Images the result sensor reports a second on PostgreSQL (issue 16)."""
POLLS_TARGET = 1.3
CPU_TARGET_MS = 2.0
GROWTH_TARGET = 1.05
RATE_LIMITED_TARGET = 0
"""429s per 1,000 jobs with the processes sharing one limiter store."""

BATCH_MODES = (
    ("a_client_fanout", "(a) client fan-out"),
    ("b_inline_asset", "(b) inline asset"),
    ("c_deferred_sensor", "(c) deferred + sensor"),
    ("d_deferred_webhooks", "(d) deferred + webhooks"),
)
DAGSTER_MODES = ("c_deferred_sensor", "d_deferred_webhooks")
BATCH_RUNS = (
    ("batch_throughput", tuple(mode for mode, _ in BATCH_MODES)),
    ("batch_throughput_6000", ("a_client_fanout", "b_inline_asset")),
    ("batch_throughput_postgres", DAGSTER_MODES),
)
"""``run_all``'s runs of ``batch_throughput.py``, and the modes each runs."""
DAEMON_RUNS = (
    ("daemon_backfill", "single_run", DAGSTER_BOUND_TARGET),
    ("daemon_backfill_per_partition", "per_partition", None),
)
SHARED_RUNS = (
    ("shared_budget", "SQLite file"),
    ("shared_budget_redis", "Redis"),
    ("shared_budget_postgresql", "PostgreSQL"),
)


@dataclass(frozen=True)
class Cell:
    """One measured value and its verdict (None: no target for it)."""

    value: float | int | None
    target: str = ""
    ok: bool | None = None

    def text(self, digits: int, unit: str = "") -> str:
        if self.value is None:
            return "-"
        shown = (
            f"{self.value:.{digits}f}{unit}" if isinstance(self.value, float) else f"{self.value}"
        )
        if self.ok is None:
            return shown
        return f"{shown} {'ok' if self.ok else 'MISSED'} ({self.target})"


def _at_most(value: Any, target: float | None) -> Cell:
    """``value`` against ``target`` (None: shown without a verdict)."""
    if not isinstance(value, int | float):
        return Cell(None, f"<= {target:g}" if target is not None else "")
    if target is None:
        return Cell(value)
    return Cell(value, f"<= {target:g}", value <= target)


def _at_least(value: Any, target: float) -> Cell:
    if not isinstance(value, int | float):
        return Cell(None, f">= {target:g}")
    return Cell(value, f">= {target:g}", value >= target)


@dataclass(frozen=True)
class Row:
    """One line of the headline table."""

    mode: str
    x_bound: Cell = Cell(None)
    polls_per_job: Cell = Cell(None)
    rate_limited: Cell = Cell(None)
    cpu_ms_per_job: Cell = Cell(None)
    note: str = ""
    reported_per_s: Cell = Cell(None)
    """The result sensor's reporting rate (images a second)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def _figures(results: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    result = results.get(name)
    if not result or result.get("error") or result.get("skipped") or not result.get("figures"):
        return None
    return {figure["name"]: figure["measured"] for figure in result["figures"]}


def _missing(mode: str, results: dict[str, dict[str, Any]], name: str) -> Row:
    result = results.get(name) or {}
    why = result.get("error") or result.get("skipped") or "not run"
    return Row(mode, note=str(why).splitlines()[0][:80])


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """The headline rows from ``run_all``'s per-benchmark results."""
    table: list[Row] = []
    for bench, modes in BATCH_RUNS:
        figures = _figures(results, bench)
        settings = (results.get(bench) or {}).get("output", {}).get("settings", {})
        jobs, instance = settings.get("jobs"), settings.get("dagster_instance", "sqlite")
        for mode, label in (item for item in BATCH_MODES if item[0] in modes):
            on = f", {'PostgreSQL' if instance == 'postgres' else 'SQLite'}"
            dagster = mode in DAGSTER_MODES
            name = f"{label}, {jobs:,} jobs" if jobs else f"{label} ({bench})"
            name += on if dagster else ""
            if figures is None or f"{mode} makespan" not in figures:
                table.append(_missing(name, results, bench))
                continue
            # (c) and (d): the target is for a PostgreSQL instance; SQLite is reported beside it.
            target = BOUND_TARGET if not dagster else None
            if dagster and instance == "postgres":
                target = DAGSTER_BOUND_TARGET
            polls = figures.get(f"{mode} status calls per job")
            table.append(
                Row(
                    name,
                    x_bound=_at_most(
                        figures.get(f"{mode} makespan / sliding-window bound"), target
                    ),
                    polls_per_job=_at_most(
                        polls, None if mode == "d_deferred_webhooks" else POLLS_TARGET
                    ),
                    rate_limited=Cell(figures.get(f"{mode} 429s per 1,000 requests")),
                    cpu_ms_per_job=Cell(figures.get(f"{mode} client CPU per job")),
                    note=f"makespan {figures.get(f'{mode} makespan')} s, bound "
                    f"{figures.get('sliding-window bound')} s; 429s per 1,000 requests; CPU "
                    "includes download and store"
                    + ("; the target is on PostgreSQL" if target is None else ""),
                )
            )
    figures = _figures(results, "sensor_scale_reporting")
    name = "result sensor reporting, PostgreSQL"
    if figures is None or "reported images a second" not in figures:
        table.append(_missing(name, results, "sensor_scale_reporting"))
    else:
        table.append(
            Row(
                name,
                note=f"images a second; {figures.get('reported images per CPU second')} per CPU "
                f"second, {figures.get('events written per reported image')} events per image",
                reported_per_s=_at_least(
                    figures["reported images a second"], REPORTED_PER_S_TARGET
                ),
            )
        )
    for bench, mode, bound_target in DAEMON_RUNS:
        figures = _figures(results, bench)
        partitions = (results.get(bench) or {}).get("output", {}).get("settings", {})
        n = partitions.get("partitions")
        name = f"daemon backfill, {mode}, {n or '?'} partitions, PostgreSQL"
        key = f"postgres, {mode}"
        if figures is None or f"{key}: makespan / chain bound" not in figures:
            table.append(_missing(name, results, bench))
            continue
        table.append(
            Row(
                name,
                x_bound=_at_most(
                    figures[f"{key}: makespan / chain bound"],
                    bound_target if n and n >= 600 else None,
                ),
                rate_limited=Cell(figures.get(f"{key}: 429s")),
                note=f"chain bound {figures.get('chain bound')} s; "
                f"{figures.get(f'{key}: runs launched')} runs; "
                f"{figures.get(f'{key}: run-launch overhead per partition')} s launch overhead "
                f"per partition; {figures.get(f'{key}: events written per image')} events per "
                "image",
            )
        )
    for bench, store in SHARED_RUNS:
        name = f"shared budget, 4 processes, {store}"
        figures = _figures(results, bench)
        if figures is None or "limiter on: 429s per 1,000 jobs" not in figures:
            table.append(_missing(name, results, bench))
            continue
        table.append(
            Row(
                name,
                rate_limited=_at_most(
                    figures["limiter on: 429s per 1,000 jobs"], RATE_LIMITED_TARGET
                ),
                note=f"429s per 1,000 jobs; {figures.get('limiter on: throughput')} jobs/s; "
                f"{figures.get('limiter on: jobs billed minus jobs asked')} billed twice",
            )
        )
    figures = _figures(results, "client_overhead")
    name = "client CPU (submit + poll, no download)"
    if figures is None:
        table.append(_missing(name, results, "client_overhead"))
    else:
        sizes = sorted(
            (int(key.split(" at ")[1].split()[0].replace(",", "")), value)
            for key, value in figures.items()
            if key.startswith("CPU per job at ")
        )
        growth = figures.get("growth exponent b (CPU ~ N^b)")
        worst = max((value for _, value in sizes), default=None)
        growth_ok = isinstance(growth, int | float) and growth <= GROWTH_TARGET
        table.append(
            Row(
                name,
                cpu_ms_per_job=_at_most(worst, CPU_TARGET_MS),
                note="worst of "
                + ", ".join(f"{size:,} jobs {value} ms" for size, value in sizes)
                + f"; growth exponent {growth} "
                + ("ok" if growth_ok else "MISSED")
                + f" (<= {GROWTH_TARGET:g})",
            )
        )
    return table


HEADS = ("mode", "x bound", "polls/job", "429s", "CPU/job", "reported/s", "note")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.mode,
        row.x_bound.text(3),
        row.polls_per_job.text(2),
        row.rate_limited.text(2),
        row.cpu_ms_per_job.text(2, " ms"),
        row.reported_per_s.text(1),
        row.note,
    )


def markdown(table: list[Row]) -> str:
    """The rows as a Markdown table (the README's)."""
    lines = ["| " + " | ".join(HEADS) + " |", "|" + "---|" * len(HEADS)]
    return "\n".join(lines + ["| " + " | ".join(_cells(row)) + " |" for row in table])


def render(table: list[Row], title: str) -> str:
    """The rows as a plain-text table."""
    heads = HEADS
    cells = [_cells(row) for row in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    widths[-1] = 0
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths[:-1]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def load() -> dict[str, float]:
    """The machine's load averages (1, 5, 15 minutes): the figures' context."""
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2)}


def _row(data: dict[str, Any]) -> Row:
    cells = {k: Cell(**v) for k, v in data.items() if isinstance(v, dict)}
    return Row(**{**data, **cells})


if __name__ == "__main__":
    import json
    import sys

    # python benchmarks/headline.py benchmarks/results/<date>.json: the run's table in Markdown
    document = json.loads(Path(sys.argv[1]).read_text())
    print(markdown([_row(row) for row in document["headline"]]))

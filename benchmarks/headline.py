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
from typing import Any

BOUND_TARGET = 1.25
POLLS_TARGET = 1.3
CPU_TARGET_MS = 2.0
GROWTH_TARGET = 1.05
RATE_LIMITED_TARGET = 0
"""429s per 1,000 jobs with the processes sharing one limiter store."""

BATCH_MODES = (("a_client_fanout", "(a) client fan-out"), ("b_inline_asset", "(b) inline asset"))
BATCH_RUNS = ("batch_throughput", "batch_throughput_6000")
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
        return f"{shown} {'ok' if self.ok else 'MISSED'}"


def _at_most(value: Any, target: float) -> Cell:
    if not isinstance(value, int | float):
        return Cell(None, f"<= {target:g}")
    return Cell(value, f"<= {target:g}", value <= target)


@dataclass(frozen=True)
class Row:
    """One line of the headline table."""

    mode: str
    x_bound: Cell
    polls_per_job: Cell
    rate_limited: Cell
    cpu_ms_per_job: Cell
    note: str = ""

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
    return Row(mode, Cell(None), Cell(None), Cell(None), Cell(None), str(why).splitlines()[0][:80])


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """The headline rows from ``run_all``'s per-benchmark results."""
    table: list[Row] = []
    for bench in BATCH_RUNS:
        figures = _figures(results, bench)
        jobs = (results.get(bench) or {}).get("output", {}).get("settings", {}).get("jobs")
        for mode, label in BATCH_MODES:
            name = f"{label}, {jobs:,} jobs" if jobs else f"{label} ({bench})"
            if figures is None or f"{mode} makespan" not in figures:
                table.append(_missing(name, results, bench))
                continue
            rate_limited = figures.get(f"{mode} 429s per 1,000 requests")
            table.append(
                Row(
                    name,
                    _at_most(figures.get(f"{mode} makespan / sliding-window bound"), BOUND_TARGET),
                    _at_most(figures.get(f"{mode} status calls per job"), POLLS_TARGET),
                    Cell(rate_limited),
                    Cell(figures.get(f"{mode} client CPU per job")),
                    f"makespan {figures.get(f'{mode} makespan')} s, bound "
                    f"{figures.get('sliding-window bound')} s; 429s per 1,000 requests; CPU "
                    "includes download and store",
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
                Cell(None),
                Cell(None),
                _at_most(figures["limiter on: 429s per 1,000 jobs"], RATE_LIMITED_TARGET),
                Cell(None),
                f"429s per 1,000 jobs; {figures.get('limiter on: throughput')} jobs/s; "
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
                Cell(None),
                Cell(None),
                Cell(None),
                _at_most(worst, CPU_TARGET_MS),
                "worst of "
                + ", ".join(f"{size:,} jobs {value} ms" for size, value in sizes)
                + f"; growth exponent {growth} "
                + ("ok" if growth_ok else "MISSED")
                + f" (<= {GROWTH_TARGET:g})",
            )
        )
    return table


def render(table: list[Row], title: str) -> str:
    """The rows as a plain-text table."""
    heads = (
        "mode",
        f"x bound (<= {BOUND_TARGET:g})",
        f"polls/job (<= {POLLS_TARGET:g})",
        "429s per 1,000",
        f"CPU/job (<= {CPU_TARGET_MS:g} ms)",
        "note",
    )
    cells = [
        (
            row.mode,
            row.x_bound.text(3),
            row.polls_per_job.text(2),
            row.rate_limited.text(2),
            row.cpu_ms_per_job.text(2, " ms"),
            row.note,
        )
        for row in table
    ]
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

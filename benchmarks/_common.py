"""Shared pieces of the benchmark scripts: the emulator in a subprocess, figures, tables, JSON.

Every script prints a table ``figure | measured | target | verdict`` and, with ``--json``, one
JSON object on its last line::

    {"benchmark": "<name>", "settings": {...}, "figures": [<Figure>, ...], "details": {...}}

``run_all.py`` reads that line, so a new script only has to follow the same shape.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import dagster as dg

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    """``bria-emulator`` in its own process (its CPU is not the benchmark's), on a free port.

    A context manager. ``rpm=None`` turns the rate limit off; ``latency`` is a distribution for
    every family (``"lognormal:6,0.5"``, ``"fixed:0"``; see ``bria_dagster.emulator.latency``).
    """

    def __init__(
        self,
        *,
        rpm: int | None,
        window_s: float = 60.0,
        latency: str = "fixed:0",
        seed: int | None = 1,
        output_megapixels: float = 1.0,
        workers: int = 4,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "bria_dagster.emulator",
            "--port",
            "0",
            "--rpm",
            str(rpm or 0),
            "--rate-window",
            str(window_s),
            "--latency",
            f"*={latency}",
            "--output-megapixels",
            str(output_megapixels),
            "--workers",
            str(workers),
            *(["--seed", str(seed)] if seed is not None else []),
            *extra_args,
        ]
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._admin: httpx.Client | None = None

    def start(self) -> EmulatorProcess:
        """Start the server and return once it printed its URL."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.process.stdout is not None
        match = re.search(r"http://\S+?:\d+", self.process.stdout.readline())
        if not match:
            self.process.kill()
            raise RuntimeError(f"the emulator did not start: {' '.join(self.command)}")
        self.base_url = match.group(0)
        self._admin = httpx.Client(base_url=self.base_url, timeout=30)
        return self

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``."""
        assert self._admin is not None
        answer = self._admin.get("/_emulator/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def reset(self) -> None:
        """Forget jobs, counters and rate-limit windows; restart the seeded random draws."""
        assert self._admin is not None
        self._admin.post("/_emulator/reset").raise_for_status()

    def configure(self, **changes: Any) -> None:
        """Change runtime settings (``rpm``, ``rate_window_s``, ``latency``, ...)."""
        assert self._admin is not None
        self._admin.post("/_emulator/config", json=changes).raise_for_status()

    def stop(self) -> None:
        """Stop the server."""
        if self._admin is not None:
            self._admin.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


STATUS_ROUTE = "GET /v2/status/{request_id}"
"""The emulator's request counter of status polls (every answer, 429s included)."""


def total_429s(stats: dict[str, Any]) -> int:
    """Every 429 the emulator answered, all endpoints."""
    return sum(stats.get("rate_limited", {}).values())


def api_requests(stats: dict[str, Any]) -> int:
    """Every API request the emulator received (429s included)."""
    return sum(stats.get("requests", {}).values())


def status_requests(stats: dict[str, Any]) -> int:
    """Status polls sent to the emulator (answered or refused with 429)."""
    return int(stats.get("requests", {}).get(STATUS_ROUTE, 0))


@dataclass
class Figure:
    """One measured figure, with its target when the issue sets one."""

    name: str
    measured: float | int | str | None
    unit: str = ""
    target: str = ""
    """Human form of the target, e.g. ``<= 1.10``; empty when there is none."""
    ok: bool | None = None
    """True / False against the target; None when there is no target."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def at_most(
    name: str, measured: float | int | None, limit: float, unit: str = "", note: str = ""
) -> Figure:
    """A figure whose target is ``measured <= limit`` (a missing figure misses it)."""
    ok = measured is not None and measured <= limit
    return Figure(name, measured, unit, f"<= {limit:g}{(' ' + unit) if unit else ''}", ok, note)


def at_least(
    name: str, measured: float | int | None, limit: float, unit: str = "", note: str = ""
) -> Figure:
    """A figure whose target is ``measured >= limit`` (a missing figure misses it)."""
    ok = measured is not None and measured >= limit
    return Figure(name, measured, unit, f">= {limit:g}{(' ' + unit) if unit else ''}", ok, note)


def at_most_if(
    applies: bool,
    name: str,
    measured: float | int | None,
    limit: float,
    unit: str = "",
    note: str = "",
) -> Figure:
    """:func:`at_most` where the target applies to this figure, else :func:`info`."""
    if applies:
        return at_most(name, measured, limit, unit, note)
    return info(name, measured, unit, note)


def info(name: str, measured: float | int | str | None, unit: str = "", note: str = "") -> Figure:
    """A figure reported without a target."""
    return Figure(name, measured, unit, "", None, note)


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``round`` that lets None through."""
    return None if value is None else round(value, digits)


def verdict(ok: bool | None) -> str:
    """``ok`` / ``MISSED`` / blank."""
    return "" if ok is None else ("ok" if ok else "MISSED")


def _cell(value: float | int | str | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = value
    return f"{text} {unit}".strip()


def table(title: str, figures: Sequence[Figure]) -> str:
    """A plain-text table of figures: name, measured, target, verdict, note."""
    rows = [
        (f.name, _cell(f.measured, f.unit), f.target or "-", verdict(f.ok), f.note) for f in figures
    ]
    heads = ("figure", "measured", "target", "", "note")
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)
    ]
    widths[-1] = 0
    line = "  ".join
    out = [title, line(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    out.append(line("-" * w for w in widths[:-1]))
    out += [line(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


@dataclass
class Report:
    """What a benchmark script prints: its table and, with ``--json``, one JSON line."""

    benchmark: str
    title: str
    settings: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "benchmark": self.benchmark,
            "settings": self.settings,
            "figures": [f.as_dict() for f in self.figures],
            "details": self.details,
            "seconds": round(time.monotonic() - self.started, 1),
        }

    def emit(self, as_json: bool) -> None:
        """Print the table; then, if asked, the JSON object on the last line."""
        print(table(self.title, self.figures), flush=True)
        if as_json:
            print(json.dumps(self.as_dict()), flush=True)


def last_json_line(stdout: str) -> dict[str, Any]:
    """The JSON object a script printed on its last non-empty line."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the script printed nothing")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


@contextlib.contextmanager
def dagster_instance(home: Path, kind: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance in ``home`` (telemetry off): SQLite files there, or PostgreSQL in a
    fresh database dropped at the end (``tests/distributed``'s helper)."""
    import dagster as dg  # only the Dagster benchmarks pay for the import

    home.mkdir(parents=True, exist_ok=True)
    telemetry = "telemetry:\n  enabled: false\n"
    if kind == "sqlite":
        (home / "dagster.yaml").write_text(telemetry)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance
        return
    sys.path.insert(0, str(REPO))
    from tests.distributed.topology import POSTGRES_STORAGE_YAML, fresh_database

    with fresh_database() as database:
        (home / "dagster.yaml").write_text(
            POSTGRES_STORAGE_YAML.format(database=database) + telemetry
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance

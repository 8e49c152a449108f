"""A CPU profile summed up as text: where a benchmark's own process spends its CPU.

``cProfile`` with ``time.process_time`` as its clock, so time spent waiting for the CPU on a
loaded machine (other processes running) is not counted, only the CPU this process used. The
summary groups the functions' own time by the package they live in (httpx, aiohttp, our client,
asyncio, ...) and lists the most expensive functions: small enough to keep in
``benchmarks/results/`` beside the figures it explains.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PACKAGES = (
    "bria_dagster/client",
    "bria_dagster",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "aiohttp",
    "multidict",
    "yarl",
    "pydantic",
    "tenacity",
    "pyrate_limiter",
    "sqlalchemy",
    "dagster",
    "PIL",
    "asyncio",
    "logging",
    "json",
)


def _package(filename: str, function: str) -> str:
    if filename == "~":  # a C function: name its kind
        if "socket" in function:
            return "socket calls (C)"
        if "epoll" in function or "select" in function:
            return "epoll (C)"
        return "other C calls"
    for name in PACKAGES:
        if f"/{name}/" in filename:
            return name
    return "other Python"


def summary(profile: cProfile.Profile | pstats.Stats, *, title: str, top: int = 30) -> str:
    """Own time per package, then the ``top`` functions by own time."""
    stats = profile if isinstance(profile, pstats.Stats) else pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    by_package: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in raw.items():
        by_package[_package(filename, function)] += own
    total = sum(by_package.values()) or 1.0
    lines = [title, "", f"own time by package (total {total:.2f} s):"]
    lines += [
        f"  {name:24s} {seconds:8.3f} s  {100 * seconds / total:5.1f} %"
        for name, seconds in by_package.most_common()
    ]
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    body = text.getvalue()
    body = body[body.find("   ncalls") :] if "   ncalls" in body else body
    lines += ["", f"top {top} functions by own time:", body.rstrip()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def cpu_profiled(path: Path | None, title: str) -> Iterator[None]:
    """Profile the block (CPU clock) and write its summary to ``path``; nothing when None."""
    if path is None:
        yield
        return
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        path.write_text(summary(profile, title=title))

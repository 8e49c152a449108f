"""Plain-text tables of ledger entries for the operator CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bria_dagster.ledger import LedgerEntry

ENTRY_HEADERS = (
    "id",
    "asset",
    "partition",
    "endpoint",
    "state",
    "request_id",
    "attempts",
    "age",
    "error",
)
_WIDTHS = {"asset": 40, "partition": 24, "endpoint": 40, "request_id": 40, "error": 70}


def format_age(seconds: float) -> str:
    """A short duration: ``42s``, ``3m05s``, ``2h07m``, ``3d04h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def error_text(entry: LedgerEntry) -> str:
    """``code: message`` of an entry's last error, or ``-``."""
    if entry.error_code and entry.error_message:
        return f"{entry.error_code}: {entry.error_message}"
    return entry.error_code or entry.error_message or "-"


def entry_row(entry: LedgerEntry, now: float, *, since_update: bool = False) -> list[str]:
    """One table row; ``age`` counts from creation (from the last change: ``since_update``)."""
    start = entry.updated_at if since_update else entry.created_at
    return [
        str(entry.id),
        entry.asset_key,
        entry.partition_key or "-",
        entry.endpoint,
        entry.state.value,
        entry.request_id or "-",
        str(entry.attempts),
        format_age(now - start),
        error_text(entry).replace("\n", " "),
    ]


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; long cells are cut with ``…``."""
    cells = [
        [_cut(cell, _WIDTHS.get(header, 1000)) for header, cell in zip(headers, row, strict=True)]
        for row in rows
    ]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )

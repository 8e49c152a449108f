"""The table a component's steps read rows from: CSV, or Parquet (the ``parquet`` extra)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bria_dagster.client.errors import BriaInputError


@dataclass(frozen=True)
class RowTable:
    """Rows keyed by the value of one column (the partition key of each row)."""

    path: Path
    key_column: str
    rows: Mapping[str, Mapping[str, Any]]

    @property
    def keys(self) -> list[str]:
        """The key column's values, in the table's order."""
        return list(self.rows)

    def row(self, key: str | None) -> Mapping[str, Any]:
        """The row whose key column is ``key``; an error naming the table when there is none."""
        found = self.rows.get(key or "")
        if found is None:
            raise BriaInputError(
                "table", f"{self.path.name} has no row with {self.key_column} = {key!r}"
            )
        return found


def load_table(path: Path, key_column: str, field: str = "table") -> RowTable:
    """Read ``path`` (``.csv``, or ``.parquet`` / ``.pq``) into rows keyed by ``key_column``.

    Every problem names ``field``: a missing file, an unknown format, a missing key column, an
    empty or duplicate key (a partition is one row).
    """
    if not path.is_file():
        raise BriaInputError(f"{field}.path", f"no file {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            records: Sequence[Mapping[str, Any]] = list(csv.DictReader(handle))
    elif suffix in {".parquet", ".pq"}:
        records = _read_parquet(path, field)
    else:
        raise BriaInputError(f"{field}.path", f"{path.name}: a table is a .csv or .parquet file")
    rows: dict[str, Mapping[str, Any]] = {}
    for number, record in enumerate(records, start=1):
        if key_column not in record:
            raise BriaInputError(
                f"{field}.key",
                f"{path.name} has no column {key_column!r}; its columns are {sorted(record)}",
            )
        key = record[key_column]
        if key is None or str(key) == "":
            raise BriaInputError(f"{field}.key", f"{path.name} row {number}: empty {key_column}")
        if str(key) in rows:
            raise BriaInputError(
                f"{field}.key", f"{path.name} row {number}: {key_column} {key!r} appears twice"
            )
        rows[str(key)] = dict(record)
    return RowTable(path=path, key_column=key_column, rows=rows)


def _read_parquet(path: Path, field: str) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as parquet  # type: ignore[import-untyped]
    except ImportError:
        raise BriaInputError(
            f"{field}.path",
            f"{path.name}: reading Parquet needs pyarrow: pip install 'bria-dagster[parquet]'",
        ) from None
    rows: list[dict[str, Any]] = parquet.read_table(path).to_pylist()
    return rows

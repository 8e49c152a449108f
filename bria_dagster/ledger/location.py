"""Where the ledger lives when nobody says: one rule shared by the Dagster layer and the CLIs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

LEDGER_URL_ENV = "BRIA_LEDGER_URL"
"""Environment variable holding an explicit ledger URL (``sqlite:///...`` or ``postgresql://...``)."""

DAGSTER_LEDGER_FILE = "bria_ledger.db"
"""The ledger's file name beside the Dagster instance (in ``$DAGSTER_HOME``)."""

HOME_LEDGER_FILE = "ledger.db"
"""The ledger's file name in ``$BRIA_DAGSTER_HOME`` or ``~/.cache/bria_dagster``."""


def default_ledger_url(environ: Mapping[str, str] | None = None) -> str:
    """The ledger URL to use when none is given.

    1. ``$BRIA_LEDGER_URL`` when set (e.g. a PostgreSQL URL when runs span machines);
    2. else ``sqlite:///$DAGSTER_HOME/bria_ledger.db`` when ``DAGSTER_HOME`` is set, so the
       ledger sits beside the Dagster instance that runs the assets and the sensor;
    3. else ``sqlite:///<$BRIA_DAGSTER_HOME or ~/.cache/bria_dagster>/ledger.db``, the folder
       the client's rate limiter uses too.

    ``environ`` defaults to ``os.environ`` (tests pass their own). Paths are made absolute, so
    every process that resolves the rule from another working directory finds the same file.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(LEDGER_URL_ENV, "").strip()
    if explicit:
        return explicit
    dagster_home = env.get("DAGSTER_HOME", "").strip()
    if dagster_home:
        return _sqlite_url(Path(dagster_home) / DAGSTER_LEDGER_FILE)
    bria_home = env.get("BRIA_DAGSTER_HOME", "").strip()
    folder = Path(bria_home) if bria_home else Path.home() / ".cache" / "bria_dagster"
    return _sqlite_url(folder / HOME_LEDGER_FILE)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().resolve()}"

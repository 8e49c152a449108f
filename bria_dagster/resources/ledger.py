"""``BriaLedgerResource``: the durable record of every Bria request."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from bria_dagster.ledger import Ledger
from bria_dagster.ledger.location import default_ledger_url


class BriaLedgerResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # the resource is its own value
    """The request ledger the assets and the result sensor share.

    ``url``: ``sqlite:///path/ledger.db`` or ``postgresql+psycopg://...`` (runs on several
    machines need PostgreSQL). Unset: a SQLite file beside the Dagster instance
    (``$DAGSTER_HOME/bria_ledger.db``); see ``bria_dagster.ledger.location.default_ledger_url``.
    """

    url: str | None = Field(default=None, description="Ledger database URL.")
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the table (created if missing)."
    )

    _ledger: Ledger | None = PrivateAttr(default=None)
    _instance_root: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the instance's folder, where the default SQLite ledger lives."""
        instance = context.instance
        self._instance_root = getattr(instance, "root_directory", None) if instance else None

    def resolved_url(self) -> str:
        """The URL in use: ``url``, else ``default_ledger_url()`` with the instance's folder as
        ``DAGSTER_HOME`` (``$BRIA_LEDGER_URL`` still wins)."""
        if self.url:
            return self.url
        environ = dict(os.environ)
        if self._instance_root:
            environ["DAGSTER_HOME"] = str(Path(self._instance_root).resolve())
        return default_ledger_url(environ)

    def get_ledger(self) -> Ledger:
        """The :class:`Ledger` (its table is created on first use)."""
        if self._ledger is None:
            self._ledger = Ledger.from_url(self.resolved_url(), schema=self.db_schema)
        return self._ledger

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close pooled connections."""
        if self._ledger is not None:
            self._ledger.dispose()
            self._ledger = None

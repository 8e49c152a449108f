"""The places a crash test shares with its child processes: one Dagster instance folder, one
emulator, one ledger, one file:// store and the sensor's cursor file.

The test process writes a :class:`CrashWorkspace` to JSON; each child process (``child.py``)
reads it back and builds the same resources, as a Dagster daemon and a run worker would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

from bria_dagster.assets import BriaImageIOManager
from bria_dagster.ledger import Ledger
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource

INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def make_instance(home: Path) -> None:
    """Create a Dagster instance folder with its databases (telemetry off)."""
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(home)):
        pass


@dataclasses.dataclass(frozen=True)
class CrashWorkspace:
    """Where the shared state lives (all paths absolute)."""

    dagster_home: str
    base_url: str
    store_dir: str
    ledger_url: str
    ledger_schema: str | None
    cursor_path: str
    client_settings: dict[str, Any]
    """``BriaResource`` fields besides the token and URL (the tests' fast polling)."""

    @classmethod
    def create(
        cls,
        root: Path,
        base_url: str,
        ledger_url: str | None,
        ledger_schema: str | None,
        client_settings: dict[str, Any],
        instance_template: Path | None = None,
    ) -> CrashWorkspace:
        """Make the folders under ``root``; the ledger defaults to a SQLite file there.

        ``instance_template``: an instance folder (see :func:`make_instance`) copied as the
        instance, which saves creating its databases again."""
        home = root / "dagster_home"
        if instance_template is not None:
            shutil.copytree(instance_template, home)
        else:
            make_instance(home)
        store = root / "images"
        store.mkdir()
        return cls(
            dagster_home=str(home),
            base_url=base_url,
            store_dir=str(store),
            ledger_url=ledger_url or f"sqlite:///{root / 'ledger.db'}",
            ledger_schema=ledger_schema,
            cursor_path=str(root / "sensor_cursor.json"),
            client_settings={
                k: v for k, v in client_settings.items() if k in BriaResource.model_fields
            },
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def load(cls, path: str | Path) -> CrashWorkspace:
        return cls(**json.loads(Path(path).read_text()))

    @property
    def store_uri(self) -> str:
        return Path(self.store_dir).as_uri()

    def resources(self) -> dict[str, Any]:
        """The three Bria resources; the token comes from ``BRIA_API_TOKEN``."""
        return {
            "bria": BriaResource(
                api_token=dg.EnvVar("BRIA_API_TOKEN"),
                base_url=self.base_url,
                **self.client_settings,
            ),
            "bria_storage": BriaStorageResource(uri=self.store_uri),
            "bria_ledger": BriaLedgerResource(url=self.ledger_url, db_schema=self.ledger_schema),
            "bria_io_manager": BriaImageIOManager(storage=BriaStorageResource(uri=self.store_uri)),
        }

    def open_instance(self) -> dg.DagsterInstance:
        """The persistent instance in ``dagster_home`` (SQLite runs, event log, schedules)."""
        return dg.DagsterInstance.from_config(self.dagster_home)

    def open_ledger(self) -> Ledger:
        return Ledger.from_url(self.ledger_url, schema=self.ledger_schema)

    # --- the sensor cursor, kept between processes as the daemon keeps it --------------------

    def read_cursor(self) -> str | None:
        path = Path(self.cursor_path)
        return path.read_text() if path.exists() else None

    def write_cursor(self, cursor: str | None) -> None:
        if cursor is None:
            return
        temp = f"{self.cursor_path}.{os.getpid()}.tmp"
        with open(temp, "w") as file:
            file.write(cursor)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.cursor_path)

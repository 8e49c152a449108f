"""The test process's side of a crash test: start a child, read what it did, check the result."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from bria_dagster.failpoints import CRASH_ENV, CRASH_EXIT_CODE
from bria_dagster.storage.keys import SIDECAR_SUFFIX
from bria_dagster.storage.uploads import TEMP_PREFIX
from tests.crash.child import ASSET, CHILD_CRASH_ENV, OUTPUT_PREFIX, run_forked
from tests.crash.workspace import CrashWorkspace

CHILD_TIMEOUT_S = 90.0

PRELOAD = [
    "tests.crash.child",
    # Imported lazily by a run, an instance or a tick: 0.6 s a child otherwise.
    "alembic",
    "dagster._core.instance.factory",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.execution.api",
    "dagster._core.executor.in_process",
    "dagster._core.execution.submit_asset_runs",
    "dagster._core.definitions.freshness_evaluator",
    "sqlalchemy.dialects.postgresql.psycopg",
]
_FORK_SERVER = multiprocessing.get_context("forkserver")
_FORK_SERVER.set_forkserver_preload(PRELOAD)
"""Children fork from a server that imported Dagster and the package once (5-6 s a process on
this machine otherwise). Each child is still a new process with nothing of the one before but
what the instance, ledger, store and cursor file hold, and ``os._exit`` really ends it. The
server opens no database, connection or thread before forking."""

__all__ = ["CRASH_EXIT_CODE", "Child", "CrashSite", "stored_files"]


@dataclass
class Child:
    """A finished child process: its exit code and the JSON lines it printed."""

    returncode: int
    lines: list[dict[str, Any]]
    output: str
    """Everything it wrote to stdout and stderr."""
    elapsed_s: float

    def ops(self, op: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["op"] == op]

    def submitted(self) -> dict[str, dict[str, Any]]:
        """The submit step's outcome per partition."""
        return {line["partition"]: line for line in self.ops("submit")}

    def materialized(self) -> list[str]:
        """Partitions reported by the ticks that finished (their events were kept)."""
        return [p for line in self.ops("tick") for p in line["materialized"]]

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-30:])
        return f"exit {self.returncode} after {self.elapsed_s:.1f} s; output tail:\n{tail}"


@dataclass
class CrashSite:
    """A test's workspace (written to ``path``) and the token its children use."""

    workspace: CrashWorkspace
    path: Path
    token: str
    runs: int = 0

    def run(
        self, *args: str, crash_at: str | None = None, child_crash_at: str | None = None
    ) -> Child:
        """Run ``tests.crash.child`` with ``args`` in a new process, optionally dying at
        ``crash_at`` (the package's crash point) or ``child_crash_at`` (the child's own)."""
        env: dict[str, str | None] = {
            "BRIA_API_TOKEN": self.token,
            "DAGSTER_HOME": self.workspace.dagster_home,
            CRASH_ENV: crash_at,
            CHILD_CRASH_ENV: child_crash_at,
        }
        self.runs += 1
        log_path = self.path.with_name(f"child-{self.runs}.log")
        started = time.monotonic()
        process = _FORK_SERVER.Process(
            target=run_forked, args=([str(self.path), *args], env, str(log_path))
        )
        process.start()
        process.join(CHILD_TIMEOUT_S)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise AssertionError(f"child {args} still running after {CHILD_TIMEOUT_S} s")
        output = log_path.read_text()
        lines = [
            json.loads(line[len(OUTPUT_PREFIX) :])
            for line in output.splitlines()
            if line.startswith(OUTPUT_PREFIX)
        ]
        return Child(process.exitcode, lines, output, time.monotonic() - started)

    def materializations(self) -> Counter[str]:
        """How many materializations of the result asset each partition has in the instance."""
        with self.workspace.open_instance() as instance:
            found = instance.fetch_materializations(dg.AssetKey(ASSET), limit=1000).records
        return Counter(
            r.asset_materialization.partition or "" for r in found if r.asset_materialization
        )


def stored_files(workspace: CrashWorkspace) -> tuple[dict[str, list[Path]], list[Path]]:
    """The result asset's objects per partition folder (sidecars aside), and leftover temp
    files anywhere in the store."""
    root = Path(workspace.store_dir)
    objects: dict[str, list[Path]] = {}
    temps: list[Path] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.name.startswith(TEMP_PREFIX):
            temps.append(path)
        elif not path.name.endswith(SIDECAR_SUFFIX):
            objects.setdefault(path.parent.name, []).append(path)
    return objects, temps

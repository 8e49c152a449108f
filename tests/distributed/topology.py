"""The production topology on one machine, every piece a process of its own.

``running_topology(...)`` creates a fresh PostgreSQL database (Dagster's instance and the
ledger), writes ``dagster.yaml`` and ``workspace.yaml`` into a new DAGSTER_HOME, and starts
``dagster-daemon``, ``dagster-webserver`` and two ``dagster-celery worker`` processes (Redis
broker on 127.0.0.1, a database number and queue of their own), each in its own process group.
On exit every group is stopped (SIGTERM, then SIGKILL) and the database dropped.

``instance="sqlite"`` keeps Dagster's storage in DAGSTER_HOME instead (the database is still
made, for the ledger), ``module`` loads other definitions, and ``workers=0`` starts no Celery
worker (runs then execute with the definitions' own executor).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import httpx
import psycopg
import redis
import sqlalchemy as sa

from bria_dagster.client.ratelimit import token_fingerprint
from tests.ui.dagster_ui import free_port

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BRIA_DIST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
"""A database of this machine's PostgreSQL to run CREATE/DROP DATABASE from."""
REDIS = "redis://127.0.0.1:6379"

POSTGRES_STORAGE_YAML = """\
# dagster-postgres reads its URL with SQLAlchemy: name the psycopg2 driver. With SQLAlchemy 2.1
# and psycopg 3 installed, a plain postgresql:// URL picks psycopg 3, and every event write
# fails on "NOTIFY run_events, $1" (docs/deploy.md).
storage:
  postgres:
    postgres_url: "postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
"""

INSTANCE_YAML = """\
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
concurrency:
  runs:
    max_concurrent_runs: {max_concurrent_runs}
  pools:
    default_limit: 8
telemetry:
  enabled: false
"""
DEFS_MODULE = "tests.distributed.defs"

CELERY_YAML = """\
execution:
  config:
    broker: "{broker}"
    backend: "{broker}"
    config_source:
      task_default_queue: "{queue}"
      task_acks_late: true
      task_reject_on_worker_lost: true
"""

GRAPHQL_WORKSPACE = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


class TopologyError(RuntimeError):
    """A process did not come up, or a wait ran out."""


@dataclass
class Process:
    """A started process group and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class Topology:
    """Where everything runs, and the handles to stop or kill it."""

    home: Path
    database: str
    env: dict[str, str]
    webserver_url: str
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the run's database (psycopg 3, for the ledger and the test)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a query to the webserver, as the UI does; its ``data``."""
        response = httpx.post(
            self.webserver_url + "/graphql",
            json={"query": query, "variables": dict(variables or {})},
            timeout=60.0,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise TopologyError(f"GraphQL errors: {body['errors']}")
        return dict(body["data"])

    def logs(self) -> str:
        """The tail of every process's log, for failure messages."""
        return "\n".join(p.tail() for p in self.processes.values())

    def start_worker(self, name: str) -> Process:
        """Start a ``dagster-celery worker`` named ``name`` on the run's queue."""
        return self._start(
            name,
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(self.home / "celery.yaml"),
                "-q",
                self.env["DIST_QUEUE"],
                "-n",
                name,
                "--loglevel",
                "INFO",
            ],
        )

    def _start(self, name: str, argv: list[str]) -> Process:
        log_path = self.home / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout_s: float) -> T:
        """Call ``probe`` until it returns something truthy; raise with the logs after
        ``timeout_s``, or as soon as a process of the topology has died."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            for process in self.processes.values():
                if process.popen.poll() is not None and not process.name.startswith("killed-"):
                    raise TopologyError(
                        f"{process.name} exited while waiting for {what}\n" + self.logs()
                    )
            with contextlib.suppress(httpx.HTTPError):
                last = probe()
                if last:
                    return last
            time.sleep(0.5)
        raise TopologyError(
            f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})\n{self.logs()}"
        )


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database for one test run, dropped (with its connections) at the end."""
    name = f"dagster_dist_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_topology(
    home: Path,
    extra_env: Mapping[str, str],
    workers: int = 2,
    *,
    module: str = DEFS_MODULE,
    instance: str = "postgres",
    max_concurrent_runs: int = 4,
) -> Iterator[Topology]:
    """Start the whole topology in ``home`` with ``workers`` Celery workers (none: the
    definitions' own executor), Dagster's storage on ``instance`` (``postgres`` or ``sqlite``)
    and the definitions of ``module``; stop it and drop its database on exit."""
    if instance not in ("postgres", "sqlite"):
        raise ValueError(f"instance: 'postgres' or 'sqlite', got {instance!r}")
    with fresh_database() as database, contextlib.ExitStack() as stack:
        home.mkdir(parents=True, exist_ok=True)
        storage = POSTGRES_STORAGE_YAML.format(database=database) if instance == "postgres" else ""
        (home / "dagster.yaml").write_text(
            storage + INSTANCE_YAML.format(max_concurrent_runs=max_concurrent_runs)
        )
        queue = f"dist_{secrets.token_hex(4)}"
        broker = f"{REDIS}/{secrets.randbelow(14) + 1}"
        (home / "celery.yaml").write_text(CELERY_YAML.format(broker=broker, queue=queue))
        (home / "workspace.yaml").write_text(
            f"load_from:\n  - python_module:\n      module_name: {module}\n"
            f"      working_directory: {REPO}\n"
        )
        env = dict(os.environ)
        env.update(extra_env)
        env.update(
            {
                "DAGSTER_HOME": str(home),
                "DIST_BROKER": broker,
                "DIST_QUEUE": queue,
                "DIST_LEDGER_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
                "PYTHONPATH": str(REPO),
                # `dagster-celery worker start` runs `celery` from PATH.
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        port = free_port()
        topology = Topology(home, database, env, f"http://127.0.0.1:{port}")

        def stop_all() -> None:
            for process in reversed(list(topology.processes.values())):
                stop_group(process.popen)

        stack.callback(
            _forget_redis_keys, broker, queue, env.get("DIST_LIMITER"), env.get("BRIA_API_TOKEN")
        )
        stack.callback(stop_all)
        # The webserver creates the instance's tables before anything else touches them.
        workspace = str(home / "workspace.yaml")
        topology._start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
        )
        topology.wait_for("the webserver to load the code", lambda: _loaded(topology), 180)
        topology._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        for index in range(workers):
            topology.start_worker(f"worker-{'abcdefgh'[index]}")
        if workers:
            topology.wait_for(
                f"{workers} Celery worker(s)", lambda: _workers_ready(topology, workers), 120
            )
        yield topology


def _forget_redis_keys(broker: str, queue: str, limiter: str | None, token: str | None) -> None:
    """Delete the run's broker queue and rate budgets from Redis (other sessions' keys have
    other queue names and tokens)."""
    patterns = [(broker, f"*{queue}*")]
    if limiter and limiter.startswith("redis://") and token:
        patterns.append((limiter, f"*{token_fingerprint(token)}*"))
    for url, pattern in patterns:
        client = redis.Redis.from_url(url)
        try:
            for key in client.scan_iter(match=pattern, count=500):
                client.delete(key)
        finally:
            client.close()


def _loaded(topology: Topology) -> bool:
    data = topology.graphql(GRAPHQL_WORKSPACE)["workspaceOrError"]
    entries = data.get("locationEntries") or []
    for entry in entries:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            raise TopologyError(f"code location failed to load: {loaded.get('message')}")
    return bool(entries) and all(e.get("loadStatus") == "LOADED" for e in entries)


def _workers_ready(topology: Topology, count: int) -> bool:
    ready = [
        name
        for name, p in topology.processes.items()
        if name.startswith("worker-") and "ready." in p.log_path.read_text(errors="replace")
    ]
    return len(ready) >= count


def ledger_states(topology: Topology, asset_key: str, partitions: list[str]) -> dict[str, int]:
    """How many ledger rows of ``asset_key`` over ``partitions`` are in each state."""
    engine = sa.create_engine(topology.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT state, count(*) FROM bria_requests WHERE asset_key = :key "
                    "AND partition_key = ANY(:parts) GROUP BY state"
                ),
                {"key": asset_key, "parts": partitions},
            ).all()
    except sa.exc.ProgrammingError:
        return {}
    finally:
        engine.dispose()
    return {str(state): int(n) for state, n in rows}


LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def launch_backfill(topology: Topology, assets: list[str], partitions: list[str]) -> str:
    """Launch a backfill of ``assets`` (``"a/b"`` key strings) over ``partitions`` as the UI
    does; its id."""
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": name.split("/")} for name in assets],
        "fromFailure": False,
    }
    answer = topology.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise TopologyError(f"backfill not launched: {answer}")
    return str(answer["backfillId"])


def partitions_materialized(
    instance: dg.DagsterInstance, asset: str, partitions: list[str]
) -> Counter[str]:
    """Materializations of ``asset`` per partition, over ``partitions``."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=10_000).records
    wanted = set(partitions)
    return Counter(
        r.asset_materialization.partition
        for r in records
        if r.asset_materialization and r.asset_materialization.partition in wanted
    )

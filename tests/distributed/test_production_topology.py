"""The production topology on one machine: a PostgreSQL Dagster instance, ``dagster-daemon`` and
``dagster-webserver`` as separate processes, the Celery executor with a Redis broker and two
``dagster-celery`` workers, the ledger on PostgreSQL, the rate budget on Redis, results on S3
(SeaweedFS), Bria emulated on 127.0.0.1.

One test, three acts, each launched through the webserver's GraphQL API as the UI does:

1. a backfill of 60 partitions of a deferred step (the daemon's result sensor collects it), then
   of the two inline steps after it: one materialization per partition per asset, one billed
   job per partition and step, no 429, every object in S3;
2. the same for 12 more partitions, with the Celery worker processes executing the cut-out step
   SIGKILLed while it waits on Bria: the task is redelivered, the step resumes its request ids
   (nothing paid twice) and every partition is materialized once (nothing lost);
3. a run terminated while its cut-out step waits on Bria: the run ends CANCELED, no step of it
   materializes afterwards, no step "requested a retry", and the ledger keeps its requests.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import s3fs

from bria_dagster.emulator import EmulatorConfig, EmulatorServer
from bria_dagster.storage.keys import SIDECAR_SUFFIX
from tests.distributed.topology import (
    Topology,
    launch_backfill,
    ledger_states,
    partitions_materialized,
    running_topology,
)
from tests.storage.seaweedfs import S3Endpoint

pytestmark = [pytest.mark.distributed, pytest.mark.slow, pytest.mark.timeout(600)]

MAIN = [f"sku-{i:03d}" for i in range(60)]
KILL = [f"sku-{i:03d}" for i in range(60, 72)]
TERMINATE = [f"sku-{i:03d}" for i in range(72, 84)]
RPM = 600
"""The emulator's per-endpoint plan; the client uses 80 % of it (``defs.py``), shared by every
process through Redis."""

FAST = {"*": "uniform:0.3,1.0"}
SLOW_EDITS = {"*": "uniform:0.3,1.0", "edit": 8.0}
"""Acts 2 and 3: the cut-out waits 8 s on Bria, long enough to kill or terminate it mid-wait."""

TERMINATE_RUN = """
mutation($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(rpm=RPM, rate_window_s=60.0, latency=FAST, seed=11)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def topology(tmp_path: Path, emulator: EmulatorServer, seaweedfs: S3Endpoint) -> Iterator[Topology]:
    env = {
        "BRIA_API_TOKEN": f"dist-{secrets.token_hex(8)}",
        "BRIA_BASE_URL": emulator.base_url,
        "DIST_SKUS": str(len(MAIN) + len(KILL) + len(TERMINATE)),
        "DIST_RPM": str(RPM),
        "DIST_LIMITER": "redis://127.0.0.1:6379/0",
        "DIST_STORAGE_URI": f"s3://{seaweedfs.bucket}/dist-{secrets.token_hex(4)}",
        "DIST_S3_ENDPOINT": seaweedfs.endpoint_url,
        "AWS_ACCESS_KEY_ID": seaweedfs.key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs.secret,
    }
    with running_topology(tmp_path / "dagster_home", env) as running:
        yield running


def test_backfill_worker_loss_and_termination(
    topology: Topology, emulator: EmulatorServer, seaweedfs: S3Endpoint
) -> None:
    with dg.DagsterInstance.from_config(str(topology.home)) as instance:
        # Act 1: 60 partitions through the deferred step, then the two inline steps. (The
        # photos of acts 2 and 3 are submitted by a second backfill at the same time: the
        # daemon looks at backfills every 30 s, and each costs at least one look.)
        started = time.monotonic()
        photos = launch_backfill(topology, ["photo_requests"], MAIN)
        later_photos = launch_backfill(topology, ["photo_requests"], KILL + TERMINATE)
        wait_runs(topology, instance, photos, runs=2)
        wait_runs(topology, instance, later_photos, runs=1)
        wait_materialized(topology, instance, "photo", MAIN + KILL + TERMINATE, timeout_s=180)
        wait_runs(topology, instance, launch_backfill(topology, ["cutout", "square"], MAIN), 2)
        act1_s = time.monotonic() - started
        stats = emulator.stats()
        assert_once_each(instance, MAIN)
        assert stats.submits == {
            "/v2/image/generate": 60 + len(KILL + TERMINATE),
            "/v2/image/edit/remove_background": 60,
            "/v2/image/edit/expand": 60,
        }, stats.submits
        assert sum(stats.rate_limited.values()) == 0, stats.rate_limited
        assert_objects(topology, seaweedfs, MAIN)
        print(f"act 1: {act1_s:.0f} s; {stats.status_polls_total} status polls; 0 429s")

        # Act 2: the workers' pool processes die (SIGKILL) while the cut-out step waits on Bria.
        started = time.monotonic()
        emulator.state.configure(latency=SLOW_EDITS)
        backfill_id = launch_backfill(topology, ["cutout", "square"], KILL)
        topology.wait_for(
            "the cut-out's 12 requests pending at Bria",
            lambda: ledger_states(topology, "cutout", KILL).get("pending") == len(KILL),
            120,
        )
        killed = kill_pool_processes(topology, step_worker(instance, backfill_id, "cutout"))
        assert killed, "no Celery pool process found to kill"
        wait_runs(topology, instance, backfill_id, runs=1)
        act2_s = time.monotonic() - started
        stats = emulator.stats()
        assert_once_each(instance, MAIN + KILL)
        assert stats.submits["/v2/image/edit/remove_background"] == 72, stats.submits
        assert stats.submits["/v2/image/edit/expand"] == 72, stats.submits
        assert sum(stats.rate_limited.values()) == 0, stats.rate_limited
        assert_objects(topology, seaweedfs, MAIN + KILL)
        print(f"act 2: {act2_s:.0f} s; killed pool processes {killed}")

        # Act 3: a run terminated while its cut-out step waits on Bria.
        started = time.monotonic()
        backfill_id = launch_backfill(topology, ["cutout", "square"], TERMINATE)
        topology.wait_for(
            "the cut-out's requests pending at Bria",
            lambda: ledger_states(topology, "cutout", TERMINATE).get("pending") == len(TERMINATE),
            120,
        )
        (run,) = backfill_runs(instance, backfill_id)
        answer = topology.graphql(TERMINATE_RUN, {"runId": run.run_id})["terminateRun"]
        assert answer["__typename"] == "TerminateRunSuccess", answer
        topology.wait_for(
            "the terminated run to be CANCELED",
            lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED,
            60,
        )
        time.sleep(10.0)  # longer than Bria's 8 s: a step still running would finish by now
        for asset in ("cutout", "square"):
            found = partitions_materialized(instance, asset, TERMINATE)
            assert not found, f"{asset} materialized after its run was terminated: {found}"
        retries = [
            e
            for e in instance.all_logs(run.run_id)
            if e.dagster_event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
        ]
        assert not retries, [e.message for e in retries]
        states = ledger_states(topology, "cutout", TERMINATE)
        assert set(states) <= {"pending", "completed"}, states
        assert sum(states.values()) == len(TERMINATE), states
        assert emulator.stats().submits["/v2/image/edit/remove_background"] == 84
        print(f"act 3: {time.monotonic() - started:.0f} s; ledger after termination {states}")


# --- helpers ------------------------------------------------------------------------------


def wait_runs(
    topology: Topology,
    instance: dg.DagsterInstance,
    backfill_id: str,
    runs: int,
    timeout_s: float = 240,
) -> None:
    """Wait until the backfill's ``runs`` runs have ended (not for the daemon to mark the
    backfill done: it looks every 30 s); fail unless they all succeeded."""
    finished = {
        dg.DagsterRunStatus.SUCCESS,
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    }

    def ended() -> list[Any] | None:
        found = backfill_runs(instance, backfill_id)
        done = len(found) == runs and all(run.status in finished for run in found)
        return found if done else None

    found = topology.wait_for(f"the {runs} run(s) of backfill {backfill_id}", ended, timeout_s)
    failed = [run.run_id for run in found if run.status != dg.DagsterRunStatus.SUCCESS]
    assert not failed, f"runs {failed} did not succeed\n{topology.logs()}"


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[Any]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


def wait_materialized(
    topology: Topology,
    instance: dg.DagsterInstance,
    asset: str,
    partitions: list[str],
    timeout_s: float,
) -> None:
    topology.wait_for(
        f"{asset} materialized for {len(partitions)} partitions",
        lambda: len(partitions_materialized(instance, asset, partitions)) == len(partitions),
        timeout_s,
    )


def assert_once_each(instance: dg.DagsterInstance, partitions: list[str]) -> None:
    """One materialization per partition of every asset (the deferred one included)."""
    for asset in ("photo_requests", "photo", "cutout", "square"):
        found = partitions_materialized(instance, asset, partitions)
        wrong = {p: found.get(p, 0) for p in partitions if found.get(p, 0) != 1}
        assert not wrong, f"{asset}: materializations per partition not 1: {wrong}"


def assert_objects(topology: Topology, seaweedfs: S3Endpoint, partitions: list[str]) -> None:
    """One stored object per partition of every step, in S3."""
    fs = s3fs.S3FileSystem(**seaweedfs.storage_options())  # type: ignore[arg-type]
    root = topology.env["DIST_STORAGE_URI"].removeprefix("s3://")
    for asset in ("photo", "cutout", "square"):
        objects = [path for path in fs.find(f"{root}/{asset}") if not path.endswith(SIDECAR_SUFFIX)]
        folders = Counter(path.split("/")[-2] for path in objects)
        missing = [p for p in partitions if folders.get(p) != 1]
        assert not missing, f"{asset}: objects missing or doubled for {missing[:5]}"


def step_worker(instance: dg.DagsterInstance, backfill_id: str, step_key: str) -> str:
    """The name of the Celery worker executing ``step_key`` in the backfill's run."""
    (run,) = backfill_runs(instance, backfill_id)
    for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        dagster_event = event.dagster_event
        if dagster_event is None or dagster_event.step_key != step_key:
            continue
        metadata = dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata:
            return str(metadata["Celery worker"].value).split("@")[0]
    raise AssertionError(f"no Celery worker reported executing {step_key}")


def kill_pool_processes(topology: Topology, worker: str) -> list[int]:
    """SIGKILL the pool processes (where tasks execute) of Celery worker ``worker``; their
    worker's main process stays, sees them lost, and hands the task back to the broker
    (``task_acks_late`` and ``task_reject_on_worker_lost``)."""
    group = topology.processes[worker].popen.pid
    members = [pid for pid in _pids() if _pgid(pid) == group]
    parents = {pid: _ppid(pid) for pid in members}
    celery_main = [pid for pid in members if parents[pid] == group]
    pool = [pid for pid in members if parents[pid] in celery_main]
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    return pool


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])

"""A child process of the crash tests: runs the submit step and/or sensor ticks, then exits.

``python -m tests.crash.child WORKSPACE.json [--submit P ... [--batch]] [--tick]
[--extra-ticks N]``; the tests start it with :func:`run_forked` from a fork server that has
imported this module already (a fresh process each time, without paying the imports again).

With ``BRIA_DAGSTER_CRASH_AT`` set the process dies (exit 86) at that point of the package's
code. ``CRASH_CHILD_AT=daemon.after_events`` kills it where the daemon could die: after a tick's
events are stored in the instance and before its cursor is saved. Each step and tick is printed
as a JSON line starting with ``CRASHTEST``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    AUTO_RETRY_RUN_ID_TAG,
    MAX_RETRIES_TAG,
    PARENT_RUN_ID_TAG,
    RETRY_NUMBER_TAG,
    ROOT_RUN_ID_TAG,
    TAGS_TO_MAYBE_OMIT_ON_RETRY,
)
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

from bria_dagster.failpoints import CRASH_EXIT_CODE
from bria_dagster.ledger import EntryState, Ledger
from tests.crash.retry_job import WORKSPACE_ENV, submit_job
from tests.crash.workspace import CrashWorkspace
from tests.dagster.deferred_graph import build_deferred, tick

OUTPUT_PREFIX = "CRASHTEST "
CHILD_CRASH_ENV = "CRASH_CHILD_AT"
ASSET = "product_photo"


_started = [time.monotonic()]


def emit(**fields: Any) -> None:
    """Print one JSON line for the test process (``t``: seconds since the child started)."""
    fields["t"] = round(time.monotonic() - _started[0], 3)
    print(OUTPUT_PREFIX + json.dumps(fields), flush=True)


def submit(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    partitions: list[str],
    batch: bool,
) -> None:
    """Run the submit step: a run per partition, or one run over the range (``batch``)."""
    photo, _cutout, _sensor = build_deferred()
    runs: list[tuple[str | None, dict[str, str]]] = [(p, {}) for p in partitions]
    if batch:
        span = {
            ASSET_PARTITION_RANGE_START_TAG: partitions[0],
            ASSET_PARTITION_RANGE_END_TAG: partitions[-1],
        }
        runs = [(None, span)]
    for partition, tags in runs:
        result = dg.materialize(
            [photo.submit],
            instance=instance,
            resources=resources,
            partition_key=partition,
            tags=tags,
            raise_on_error=False,
        )
        errors = []
        for event in result.get_step_failure_events():
            data = event.step_failure_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                errors.append(data.user_failure_data.description)
            elif data.error is not None:
                errors.append(data.error.message)
        label = partition or f"{partitions[0]}...{partitions[-1]}"
        emit(op="submit", partition=label, success=result.success, errors=errors)


def run_job(instance: dg.DagsterInstance, workspace_path: str, partitions: list[str]) -> None:
    """One run of the submit job over ``partitions``, tagged for Dagster's run retries."""
    os.environ[WORKSPACE_ENV] = workspace_path
    tags = {
        MAX_RETRIES_TAG: "3",
        ASSET_PARTITION_RANGE_START_TAG: partitions[0],
        ASSET_PARTITION_RANGE_END_TAG: partitions[-1],
    }
    with dg.execute_job(
        dg.reconstructable(submit_job), instance, tags=tags, raise_on_error=False
    ) as result:
        emit(op="run", run_id=result.run_id, success=result.success, retry=None)


def retry_runs(instance: dg.DagsterInstance, workspace_path: str) -> None:
    """What Dagster's run-retry daemon does with failed runs: ask its ``should_retry`` and
    re-execute the run from failure with its parent's tags (less those Dagster drops on a
    retry) and its retry number, until it succeeds or its ``dagster/max_retries`` are spent."""
    os.environ[WORKSPACE_ENV] = workspace_path
    while True:
        failed = [
            run
            for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            if AUTO_RETRY_RUN_ID_TAG not in run.tags and should_retry(run, instance)
        ]
        if not failed:
            return
        parent = failed[0]
        _root, group = instance.get_run_group(parent.run_id) or (None, [])
        options = dg.ReexecutionOptions.from_failure(parent.run_id, instance)
        with dg.execute_job(
            dg.reconstructable(submit_job),
            instance,
            reexecution_options=options,
            tags={
                **{k: v for k, v in parent.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY},
                RETRY_NUMBER_TAG: str(len(list(group))),
                PARENT_RUN_ID_TAG: parent.run_id,
                ROOT_RUN_ID_TAG: parent.root_run_id or parent.run_id,
            },
            raise_on_error=False,
        ) as result:
            instance.add_run_tags(parent.run_id, {AUTO_RETRY_RUN_ID_TAG: result.run_id})
            emit(op="run", run_id=result.run_id, success=result.success, retry=parent.run_id)


def settled(ledger: Ledger) -> bool:
    """Nothing left for the sensor: no job running or unstored, every result reported."""
    for entry in ledger.list(asset_key=ASSET, limit=1000):
        if entry.state in (EntryState.PENDING, EntryState.COMPLETED):
            return False
        if entry.state is EntryState.STORED and not entry.reported:
            return False
    return True


def run_ticks(
    workspace: CrashWorkspace,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    extra: int,
    limit_s: float,
) -> None:
    """Tick until the ledger is settled, then ``extra`` more ticks; the cursor lives in a file."""
    _photo, _cutout, sensor = build_deferred()
    ledger = workspace.open_ledger()
    deadline = time.monotonic() + limit_s
    remaining = extra
    try:
        while True:
            result = tick(sensor, instance, resources, workspace.read_cursor())
            if os.environ.get(CHILD_CRASH_ENV) == "daemon.after_events" and result.asset_events:
                os._exit(CRASH_EXIT_CODE)
            workspace.write_cursor(result.cursor)
            materialized = [
                e.partition
                for e in result.asset_events or []
                if isinstance(e, dg.AssetMaterialization)
            ]
            emit(op="tick", materialized=materialized, skip=result.skip_reason)
            if settled(ledger):
                if remaining <= 0:
                    return
                remaining -= 1
            if time.monotonic() > deadline:
                emit(op="timeout", counts={s.value: n for s, n in ledger.counts().items()})
                sys.exit(3)
            time.sleep(0.1)
    finally:
        ledger.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.crash.child")
    parser.add_argument("workspace")
    parser.add_argument("--submit", nargs="+", default=[], metavar="PARTITION")
    parser.add_argument("--batch", action="store_true", help="one run for all --submit")
    parser.add_argument("--tick", action="store_true", help="tick until settled")
    parser.add_argument("--extra-ticks", type=int, default=0)
    parser.add_argument("--limit-s", type=float, default=30.0)
    parser.add_argument("--job", nargs="+", default=[], metavar="PARTITION", help="a job run")
    parser.add_argument("--run-retries", action="store_true", help="retry failed runs")
    args = parser.parse_args(argv)
    _started[0] = time.monotonic()
    emit(op="start")
    workspace = CrashWorkspace.load(args.workspace)
    resources = workspace.resources()
    with workspace.open_instance() as instance:
        if args.job:
            run_job(instance, args.workspace, args.job)
        if args.run_retries:
            retry_runs(instance, args.workspace)
        if args.submit:
            submit(instance, resources, args.submit, args.batch)
        if args.tick:
            run_ticks(workspace, instance, resources, args.extra_ticks, args.limit_s)
    return 0


def run_forked(argv: list[str], env: dict[str, str | None], log_path: str) -> None:
    """A fork server's process target: send fd 1 and 2 to ``log_path``, apply ``env`` (None
    removes a variable), run :func:`main`. Its exit code is the process's."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    sys.exit(main(argv))


if __name__ == "__main__":
    sys.exit(main())

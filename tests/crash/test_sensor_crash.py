"""The result sensor killed mid-download, after storing, and before reporting; then restarted.

Each test submits the batch and ticks in a child process that dies at the crash point (exit 86),
then ticks again in a fresh child with the same instance, ledger, store and cursor file. Every
job must end stored once, reported once, and never be submitted again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState
from tests.crash.harness import CRASH_EXIT_CODE, CrashSite, stored_files
from tests.dagster.graph import SKUS

GENERATE = "/v2/image/generate"


def _snapshot(paths: dict[str, list[Path]]) -> dict[str, tuple[int, int, str]]:
    """(inode, mtime_ns, sha256) of each stored object, by partition folder."""
    found = {}
    for folder, files in paths.items():
        (path,) = files
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[folder] = (stat.st_ino, stat.st_mtime_ns, digest)
    return found


def _assert_all_stored_once(site: CrashSite, emulator: EmulatorServer) -> None:
    ledger = site.workspace.open_ledger()
    try:
        entries = ledger.list(asset_key="product_photo")
    finally:
        ledger.dispose()
    assert sorted(e.partition_key or "" for e in entries) == sorted(SKUS)
    assert all(e.state is EntryState.STORED and e.reported for e in entries), entries
    assert all(e.attempts == 1 for e in entries)
    assert len({e.request_id for e in entries}) == len(SKUS)
    # One POST per partition in all: the restart resubmitted nothing.
    assert emulator.stats().submits == {GENERATE: len(SKUS)}
    # One materialization per partition in the instance: nothing reported twice.
    assert site.materializations() == {sku: 1 for sku in SKUS}
    # One object per partition in the store, the one the ledger points at; no temp leftovers.
    objects, _temps = stored_files(site.workspace)
    assert sorted(objects) == sorted(SKUS) and all(len(v) == 1 for v in objects.values())
    by_partition = {e.partition_key: e for e in entries}
    for sku, (path,) in objects.items():
        entry = by_partition[sku]
        assert entry.storage_uri == path.as_uri()
        assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("point", ["store.downloaded", "store.after_put", "sensor.before_report"])
def test_sensor_restart_stores_and_reports_each_result_once(
    site: CrashSite, emulator: EmulatorServer, point: str
) -> None:
    crashed = site.run("--submit", *SKUS, "--batch", "--tick", crash_at=point)
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.describe()
    assert all(line["success"] for line in crashed.submitted().values()), crashed.describe()
    assert emulator.stats().submits == {GENERATE: len(SKUS)}
    assert crashed.materialized() == [], "the crash came before any tick ended"
    assert sum(site.materializations().values()) == 0

    ledger = site.workspace.open_ledger()
    try:
        states = {e.partition_key: e for e in ledger.list(asset_key="product_photo")}
    finally:
        ledger.dispose()
    objects, _ = stored_files(site.workspace)
    in_store = {folder for folder, files in objects.items() if files}
    stored = {p for p, e in states.items() if e.state is EntryState.STORED}
    if point == "store.downloaded":
        # Died holding a downloaded result: nothing reached the store or the ledger's "stored".
        assert not stored and not in_store
        assert any(e.state is EntryState.COMPLETED for e in states.values())
    elif point == "store.after_put":
        # The object is in the store, but the ledger does not know: its entry is "completed".
        assert in_store and not stored
        assert all(states[p].state is EntryState.COMPLETED for p in in_store)
    else:
        # Stored and marked, never reported: the instance has nothing yet.
        assert stored and stored <= in_store
        assert not any(e.reported for e in states.values())
    before = _snapshot({folder: objects[folder] for folder in in_store})

    restarted = site.run("--tick")
    assert restarted.returncode == 0, restarted.describe()
    assert sorted(restarted.materialized()) == sorted(SKUS)
    _assert_all_stored_once(site, emulator)
    # Objects stored before the crash were reused as they were (write-once), not rewritten.
    objects, _ = stored_files(site.workspace)
    after = _snapshot(objects)
    assert all(after[folder] == before[folder] for folder in before)


def test_daemon_dying_after_storing_events_before_the_cursor_reports_nothing_twice(
    site: CrashSite, emulator: EmulatorServer
) -> None:
    """The daemon stores a tick's asset events, then its cursor: dying in between (a crash, or
    a tick that fails while launching its run requests) re-runs the tick on the old cursor."""
    crashed = site.run("--submit", *SKUS, "--batch", "--tick", child_crash_at="daemon.after_events")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.describe()
    reported = site.materializations()
    assert sum(reported.values()) > 0, "the events of the dying tick were kept"

    restarted = site.run("--tick")
    assert restarted.returncode == 0, restarted.describe()
    _assert_all_stored_once(site, emulator)

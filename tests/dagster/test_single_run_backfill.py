"""``backfill_policy=BackfillPolicy.single_run()``: many partitions in one run, each billed once.

A backfill of an asset with this policy is one run over the partition range (the
``dagster/asset_partition_range_*`` tags Dagster's backfill daemon sets, as here). The ledger
keys every request by partition, so the run pays once per partition, and running the range
again (a retried or resumed backfill) pays for none of them. The result sensor then asks for
the downstream step of the partitions a tick reports in one run per contiguous range.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dagster as dg
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from bria_dagster.ledger import EntryState
from bria_dagster.sensors.downstream import (
    MAX_HOLD_S,
    RANGE_END_TAG,
    RANGE_SENSOR_TAG,
    RANGE_START_TAG,
    chunk_requests,
    contiguous_ranges,
    ranges_due,
)
from tests.dagster.deferred_graph import build_deferred, tick
from tests.dagster.graph import SKUS

RANGE = {RANGE_START_TAG: SKUS[0], RANGE_END_TAG: SKUS[-1]}
GENERATE = "/v2/image/generate"
CUT_OUT = "/v2/image/edit/remove_background"


def _settled(resources: dict[str, Any]) -> bool:
    ledger = resources["bria_ledger"].get_ledger()
    return all(e.state is not EntryState.PENDING for e in ledger.list(asset_key="product_photo"))


def test_a_single_run_backfill_submits_every_partition_once_and_resumes(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, cutout, sensor = build_deferred(backfill_policy=dg.BackfillPolicy.single_run())
    assert photo.submit.backfill_policy == dg.BackfillPolicy.single_run()
    submitted = dg.materialize([photo.submit], instance=instance, resources=resources, tags=RANGE)
    assert submitted.success
    assert instance.get_runs_count() == 1
    assert emulator.stats().submits == {GENERATE: len(SKUS)}
    ledger = resources["bria_ledger"].get_ledger()
    entries = ledger.list(asset_key="product_photo")
    assert sorted(e.partition_key or "" for e in entries) == sorted(SKUS)
    # Billed once per partition, all to the one run.
    assert ledger.spend_per("run", since=0) == [(submitted.run_id, len(SKUS))]

    # The same range again (a re-launched backfill) resumes every request: nothing is paid.
    again = dg.materialize([photo.submit], instance=instance, resources=resources, tags=RANGE)
    assert again.success
    # One materialization per partition of the range, each with the run's metadata.
    m, *others = again.asset_materializations_for_node(photo.submit.key.path[-1])
    assert sorted(x.partition or "" for x in [m, *others]) == sorted(SKUS)
    assert m.metadata["bria/submitted"].value == 0
    assert m.metadata["bria/resumed"].value + m.metadata["bria/already_done"].value == len(SKUS)
    assert emulator.stats().submits == {GENERATE: len(SKUS)}

    # Every job done before the first tick: the tick asks for one cut-out run over the range.
    deadline = time.monotonic() + 30
    cursor = None
    landed: list[dg.RunRequest] = []
    while time.monotonic() < deadline and not landed:
        time.sleep(0.5)
        result = tick(sensor, instance, resources, cursor)
        cursor = result.cursor
        landed = list(result.run_requests or [])
    (request,) = landed
    assert request.partition_key is None
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (SKUS[0], SKUS[-1])
    assert request.asset_selection == [cutout.key]
    # Asked again for the same partitions (a lost cursor), it is the same run key: no new run.
    cut = dg.materialize(
        [cutout, photo.result],
        selection=[cutout.key],
        instance=instance,
        resources=resources,
        tags=dict(request.tags),
    )
    assert cut.success
    assert emulator.stats().submits == {GENERATE: len(SKUS), CUT_OUT: len(SKUS)}
    assert instance.get_materialized_partitions(cutout.key) == set(SKUS)
    # Each partition's materialization carries its own image (and preview), not the run's.
    for m in cut.asset_materializations_for_node(cutout.key.path[-1]):
        (image,) = m.metadata["bria/images"].value
        assert image["partition_key"] == m.partition
        assert m.metadata["bria/request_id"].value == image["request_id"]
        assert "preview" in m.metadata and m.metadata["bria/api_calls"].value >= len(SKUS)
    # One evaluation per check over the run's images (a lambda builder: image_readable only).
    assert [c.check_name for c in cut.get_asset_check_evaluations()] == ["image_readable"]
    assert all(c.passed for c in cut.get_asset_check_evaluations())


def test_downstream_runs_cover_each_contiguous_range_once(instance: dg.DagsterInstance) -> None:
    letters = dg.StaticPartitionsDefinition(list("abcdef"))
    landed = ["e", "b", "a", "c", "x"]  # as a tick reports them; "x" no longer listed
    keys = {key: f"bria:{i}:0" for i, key in enumerate(landed)}
    selection = [dg.AssetKey("cutout")]

    def requests(policy: dg.BackfillPolicy) -> list[dg.RunRequest]:
        chunks = contiguous_ranges(landed, policy, letters, instance)
        return chunk_requests(chunks, keys, selection, {})

    def spans(policy: dg.BackfillPolicy) -> list[tuple[str, str]]:
        found = requests(policy)
        assert len({r.run_key for r in found}) == len(found)
        return [
            (r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG])
            if r.partition_key is None
            else (r.partition_key, r.partition_key)
            for r in found
        ]

    assert spans(dg.BackfillPolicy.single_run()) == [("a", "c"), ("e", "e"), ("x", "x")]
    assert spans(dg.BackfillPolicy.multi_run(2)) == [("a", "b"), ("c", "c"), ("e", "e"), ("x", "x")]
    # The same partitions reported again give the same run keys: Dagster launches nothing new.
    again, first = (
        requests(dg.BackfillPolicy.single_run()),
        requests(dg.BackfillPolicy.single_run()),
    )
    assert [r.run_key for r in again] == [r.run_key for r in first]


def test_partitions_landing_while_a_range_run_is_queued_wait_for_the_next_one(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, cutout, sensor = build_deferred(backfill_policy=dg.BackfillPolicy.single_run())
    assert dg.materialize([photo.submit], instance=instance, resources=resources, tags=RANGE)
    # A range run this sensor asked for earlier still waits for a free run slot.
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=InProcessCodeLocationOrigin(
                loadable_target_origin=LoadableTargetOrigin(python_file=__file__)
            ),
            repository_name="__repository__",
        ),
        job_name="__ASSET_JOB",
    )
    queued = instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            status=dg.DagsterRunStatus.QUEUED,
            remote_job_origin=origin,
            tags={RANGE_SENSOR_TAG: sensor.name},
        )
    )
    deadline = time.monotonic() + 30
    cursor = None
    held: list[int] = []
    while time.monotonic() < deadline and len(held) < len(SKUS):
        time.sleep(0.5)
        result = tick(sensor, instance, resources, cursor)
        assert not result.run_requests  # held, not queued behind the waiting run
        cursor = result.cursor
        held = json.loads(cursor or "{}").get("held", [])
    assert len(held) == len(SKUS)
    # Every photo is materialized all the same: only the cut-out run waits.
    assert instance.get_materialized_partitions(photo.result.key) == set(SKUS)

    # The queue moves: the next tick asks for one run over every held partition.
    instance.report_run_canceled(instance.get_run_by_id(queued.run_id))
    result = tick(sensor, instance, resources, cursor)
    (request,) = result.run_requests or []
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (SKUS[0], SKUS[-1])
    assert request.tags[RANGE_SENSOR_TAG] == sensor.name
    assert request.asset_selection == [cutout.key]
    assert json.loads(result.cursor or "{}")["held"] == []


def test_short_ranges_wait_for_their_gaps_to_fill() -> None:
    chunks = [["a", "b"], ["d"], ["f", "g", "h"]]
    since = {"a": 100.0, "b": 100.0, "d": 90.0, "f": 100.0, "g": 100.0, "h": 100.0}

    def due(now: float, queued: bool = False, settled: bool = False) -> list[list[str]]:
        launch, hold = ranges_due(chunks, since, now=now, queued=queued, settled=settled)
        assert sorted(launch + hold) == sorted(chunks)
        return launch

    # The largest range runs; the short ones wait for the partitions between them.
    assert due(now=101) == [["f", "g", "h"]]
    # A partition held MAX_HOLD_S runs whatever its range.
    assert due(now=90 + MAX_HOLD_S) == [["d"], ["f", "g", "h"]]
    # No upstream request left pending: no gap will fill, everything runs.
    assert due(now=101, settled=True) == chunks
    # A range run still queued: a new one would wait behind it.
    assert due(now=90 + MAX_HOLD_S, queued=True, settled=True) == []

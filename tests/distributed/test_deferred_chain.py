"""A deferred chain under the daemon (PostgreSQL instance, dagster-daemon and dagster-webserver
as processes of their own, Bria emulated on 127.0.0.1):

- a backfill of the whole chain (submit, result, cut-out, square) launched as the UI does ends
  COMPLETED_SUCCESS only after the results landed and the steps after them ran: every asset is
  materialized once per partition, the result asset by a run of the backfill (not a runless
  event outside it); a job that ends in ERROR is resubmitted by a run of the backfill, which
  waits for it;
- a cut-out with ``AutomationCondition.eager()`` after a deferred step runs once per partition
  when the result sensor reports its results.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG

from bria_dagster.emulator import EmulatorConfig, EmulatorServer
from bria_dagster.emulator.faults import FaultRule
from tests.distributed.topology import (
    Topology,
    launch_backfill,
    partitions_materialized,
    running_topology,
)

pytestmark = [pytest.mark.distributed, pytest.mark.slow, pytest.mark.timeout(480)]

SKUS = [f"sku-{i}" for i in range(4)]
CHAIN = ["photo_requests", "photo", "cutout", "square"]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(rpm=1000, latency={"*": "uniform:0.5,2.0"}, seed=5)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def topology(tmp_path: Path, emulator: EmulatorServer) -> Iterator[Topology]:
    env = {
        "BRIA_API_TOKEN": f"chain-{secrets.token_hex(8)}",
        "BRIA_BASE_URL": emulator.base_url,
        "DIST_SKUS": str(len(SKUS)),
        "DIST_STORAGE_URI": (tmp_path / "images").as_uri(),
    }
    with running_topology(
        tmp_path / "dagster_home", env, workers=0, module="tests.distributed.chain_defs"
    ) as running:
        yield running


def test_backfill_of_a_deferred_chain_and_eager_automation(
    topology: Topology, emulator: EmulatorServer
) -> None:
    with dg.DagsterInstance.from_config(str(topology.home)) as instance:
        # The first photo job ends in ERROR: the sensor resubmits it within the backfill.
        emulator.state.configure(
            faults=[
                FaultRule(kind="job_error", on="submits", count=1, paths=("/v2/image/generate",))
            ]
        )
        started = time.monotonic()
        backfill_id = launch_backfill(topology, CHAIN, SKUS)
        topology.wait_for(
            "the chain's photos submitted",
            lambda: (
                sum(partitions_materialized(instance, "photo_requests", SKUS).values()) >= len(SKUS)
            ),
            180,
        )
        automated = launch_backfill(topology, ["auto_photo_requests"], SKUS)

        def ended() -> BulkActionStatus | None:
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            return None if backfill.status == BulkActionStatus.REQUESTED else backfill.status

        status = topology.wait_for("the chain's backfill to end", ended, 300)
        backfill_s = time.monotonic() - started
        assert status == BulkActionStatus.COMPLETED_SUCCESS, status
        # Everything had landed when the backfill ended, each once.
        for asset in CHAIN[1:]:
            counts = partitions_materialized(instance, asset, SKUS)
            assert counts == {sku: 1 for sku in SKUS}, (asset, counts)
        # The submit step ran once more for the failed job, in a run of the backfill.
        submits = partitions_materialized(instance, "photo_requests", SKUS)
        assert sorted(submits.values()) == [1] * (len(SKUS) - 1) + [2], submits
        retries = [run for run in instance.get_runs() if "bria/retry_of" in run.tags]
        assert [run.tags.get(BACKFILL_ID_TAG) for run in retries] == [backfill_id]
        # The result asset was materialized by runs of the backfill.
        photos = instance.fetch_materializations(dg.AssetKey("photo"), limit=100).records
        run_ids = {record.run_id for record in photos}
        runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(run_ids)))
        assert {run.tags.get(BACKFILL_ID_TAG) for run in runs} == {backfill_id}
        for record in photos:
            event = record.asset_materialization
            assert event is not None and event.metadata["bria/billed_jobs"].value >= 1

        # Eager automation: one cut-out per partition once its photo landed, and no second.
        topology.wait_for(
            "the automated cut-outs",
            lambda: (
                sum(partitions_materialized(instance, "auto_cutout", SKUS).values()) >= len(SKUS)
            ),
            180,
        )
        time.sleep(8)  # a few more ticks of the automation and result sensors
        counts = partitions_materialized(instance, "auto_cutout", SKUS)
        assert counts == {sku: 1 for sku in SKUS}, counts
        assert partitions_materialized(instance, "auto_photo", SKUS) == {sku: 1 for sku in SKUS}
        auto_runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: automated}))
        assert len(auto_runs) == 1

        stats = emulator.stats()
        assert stats.submits == {
            "/v2/image/generate": 2 * len(SKUS) + 1,
            "/v2/image/edit/remove_background": 2 * len(SKUS),
            "/v2/image/edit/expand": len(SKUS),
        }, stats.submits
        print(f"chain backfill of {len(SKUS)} partitions ended in {backfill_s:.0f} s")

"""Dry run (run tag ``bria/dry_run=true`` or config ``dry_run``): every request is planned and
priced against the ledger, none is sent (the emulator's request log over HTTP stays empty), and
the run succeeds with the count in an observation's metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx
import pytest

from bria_dagster.assets import DRY_RUN_TAG
from bria_dagster.assets.deferred import bria_deferred_asset
from tests.dagster.graph import SKUS, build_graph, product_prompt, products

FILE_STORAGE = pytest.mark.parametrize("storage", ["file"], indirect=True)
RANGE = {
    "dagster/asset_partition_range_start": SKUS[0],
    "dagster/asset_partition_range_end": SKUS[-1],
}


def _log_since(emulator: Any, seq: int) -> list[dict[str, Any]]:
    answer = httpx.get(f"{emulator.base_url}/_emulator/requests", params={"since": seq})
    answer.raise_for_status()
    return list(answer.json()["requests"])


def _last_seq(emulator: Any) -> int:
    answer = httpx.get(f"{emulator.base_url}/_emulator/requests")
    return int(answer.json()["last_seq"])


def _observation(result: dg.ExecuteInProcessResult, key: str) -> dg.AssetObservation:
    (found,) = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
        and e.asset_observation_data.asset_observation.asset_key == dg.AssetKey(key)
    ]
    return found


@FILE_STORAGE
def test_a_dry_run_sends_nothing_and_counts_new_and_reused_requests(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    photo, cutout, formats = build_graph()
    assert dg.materialize([photo], instance=instance, resources=resources, partition_key=SKUS[0])
    ledger = resources["bria_ledger"].get_ledger()
    rows_before = ledger.list()
    seq = _last_seq(emulator)
    submits = dict(emulator.stats().submits)

    result = dg.materialize(
        [photo, cutout, formats],
        instance=instance,
        resources=resources,
        tags={DRY_RUN_TAG: "true", **RANGE},
    )
    assert result.success
    assert _log_since(emulator, seq) == [], "a dry run sent a request"
    assert dict(emulator.stats().submits) == submits
    assert ledger.list() == rows_before, "a dry run wrote to the ledger"
    observed = _observation(result, "product_photo").metadata
    assert observed["bria/would_send"].value == 2
    assert observed["bria/reused"].value == 1
    assert "would send 2 billed request(s) (1 already stored, reused)" in str(
        observed["bria/estimate"].value
    )
    planned = observed["bria/planned_requests"].value
    assert sorted(p["partition"] for p in planned) == sorted(SKUS)
    # Nothing materialized: the images of the two new partitions do not exist, and the steps
    # downstream (which need them) are skipped, not run.
    assert result.asset_materializations_for_node("product_photo") == []
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert skipped == {"cutout", "ad_formats"}


@FILE_STORAGE
def test_the_dry_run_config_and_a_deferred_step_send_nothing_either(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    deferred = bria_deferred_asset("photo_later", product_prompt, partitions_def=products)
    seq = _last_seq(emulator)
    result = dg.materialize(
        [deferred.submit],
        instance=instance,
        resources=resources,
        partition_key=SKUS[1],
        run_config=dg.RunConfig(ops={"photo_later_requests": {"config": {"dry_run": True}}}),
    )
    assert result.success
    assert _log_since(emulator, seq) == []
    observed = _observation(result, "photo_later").metadata
    assert (observed["bria/would_send"].value, observed["bria/reused"].value) == (1, 0)
    assert result.asset_materializations_for_node("photo_later_requests") == []


@FILE_STORAGE
def test_the_checks_alone_run_on_the_latest_images(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    """A Bria step is a subsettable multi_asset (so that a dry run may skip it): selecting only
    its checks (a re-run from the UI) evaluates them on the latest images, sending nothing."""
    photo, *_ = build_graph()
    assert dg.materialize([photo], instance=instance, resources=resources, partition_key=SKUS[0])
    seq = _last_seq(emulator)
    checks_job = dg.define_asset_job(
        "photo_checks",
        selection=dg.AssetSelection.checks_for_assets(photo),
        partitions_def=products,
    )
    defs = dg.Definitions(assets=[photo], jobs=[checks_job], resources=resources)
    result = defs.resolve_job_def("photo_checks").execute_in_process(instance=instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    # A generation: no alpha check is defined for it.
    assert {e.check_name for e in evaluations} == {"image_readable", "image_dimensions"}
    assert all(e.passed for e in evaluations)
    assert result.asset_materializations_for_node("product_photo") == []
    assert _log_since(emulator, seq) == []

"""Assets on v1 calls answered with placeholder URLs (``/v1/ads/generate``): inline and deferred
steps wait for the files, the ledger keeps the URLs so an interrupted wait resumes without a
second POST, and a moderated (zero-byte) ad fails the step without a retry."""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.ads import AdElement, AdsGenerateRequest
from bria_dagster.ledger import EntryState
from bria_dagster.resources import BriaResource
from bria_dagster.sensors import TickLimits, build_bria_result_sensor
from tests.dagster import deferred_graph

AD_PATH = "/v1/ads/generate"


def _ad(text: str = "Sale now", *, moderated: bool = False) -> AdsGenerateRequest:
    element = AdElement(layer_type="text", content_type="Heading #1", content=text)
    return AdsGenerateRequest(
        template_id="1061", elements=[element], content_moderation=moderated or None
    )


@pytest.fixture
def slow_ads(emulator: Any) -> Any:
    emulator.state.configure(latency={"ads": "fixed:1.0", "*": "fixed:0.1"})
    return emulator


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_inline_ad_step_stores_the_filled_file(
    instance: dg.DagsterInstance, resources: dict[str, Any], slow_ads: Any
) -> None:
    ad = bria_asset("ad", lambda step: _ad(), retry_policy=None)
    done = dg.materialize([ad], instance=instance, resources=resources)
    assert done.success
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="ad")
    assert entry.state is EntryState.STORED and entry.result_url
    (materialization,) = done.asset_materializations_for_node("ad")
    assert materialization.metadata["bria/width"].value > 0  # the rendered ad, not a placeholder
    assert materialization.metadata["bria/size_bytes"].value > 0
    assert slow_ads.stats().submits == {AD_PATH: 1}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_an_interrupted_wait_resumes_on_the_kept_urls_without_a_second_post(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    slow_ads: Any,
) -> None:
    slow_ads.state.configure(latency={"ads": "fixed:3.0"})
    ad = bria_asset("ad", lambda step: _ad(), retry_policy=None)
    impatient = {**resources, "bria": BriaResource(**bria_fields, wait_timeout_s=0.5)}
    first = dg.materialize([ad], instance=instance, resources=impatient, raise_on_error=False)
    assert not first.success
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="ad")
    assert entry.state is EntryState.PENDING and entry.result_url  # the URLs are kept
    time.sleep(2.6)
    second = dg.materialize([ad], instance=instance, resources=resources)
    assert second.success
    assert slow_ads.stats().submits == {AD_PATH: 1}  # the wait resumed; nothing paid twice
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="ad")
    assert entry.state is EntryState.STORED


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_moderated_ad_fails_the_step_and_is_not_retried(
    instance: dg.DagsterInstance, resources: dict[str, Any], slow_ads: Any
) -> None:
    ad = bria_asset("ad", lambda step: _ad("[moderate] x", moderated=True), retry_policy=None)
    done = dg.materialize([ad], instance=instance, resources=resources, raise_on_error=False)
    assert not done.success
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="ad")
    assert entry.state is EntryState.FAILED and not entry.retryable
    assert entry.error_code == "422"


@pytest.mark.parametrize("ledger_resource", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_deferred_ad_step_is_collected_by_the_sensor(
    instance: dg.DagsterInstance, resources: dict[str, Any], slow_ads: Any
) -> None:
    ad = bria_deferred_asset("ad", lambda step: _ad(), retry_policy=None)
    sensor = build_bria_result_sensor([ad], limits=TickLimits(budget_s=10.0))
    deferred_graph.ASSETS[sensor.name] = [*ad]
    assert dg.materialize([ad.submit], instance=instance, resources=resources).success
    (entry,) = resources["bria_ledger"].get_ledger().list(asset_key="ad")
    assert entry.state is EntryState.PENDING and entry.result_url
    cursor, stored = None, False
    deadline = time.monotonic() + 20
    while not stored and time.monotonic() < deadline:
        result = deferred_graph.tick(sensor, instance, resources, cursor)
        cursor = result.cursor
        stored = any(isinstance(e, dg.AssetMaterialization) for e in result.asset_events or [])
        time.sleep(0.3)
    assert stored
    assert slow_ads.stats().submits == {AD_PATH: 1}

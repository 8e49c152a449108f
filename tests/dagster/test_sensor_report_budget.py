"""A tick that runs out of time reports part of what it stored; the next ticks report the rest.

Reading results back and reporting them is bounded by the tick's time as polling and storing
are: an evaluation past Dagster's deadline is lost whole, and the next tick would try the same,
larger, batch again (seen on a loaded machine: 391 results waiting, every tick timing out).
"""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import pytest

from bria_dagster.sensors import collect, results
from bria_dagster.sensors.collect import TickLimits
from tests.dagster.deferred_graph import build_deferred, tick
from tests.dagster.graph import SKUS


def test_reporting_past_the_deadline_goes_on_at_the_next_tick(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo, _cutout, sensor = build_deferred(limits=TickLimits(budget_s=10.0))
    for sku in SKUS:
        dg.materialize([photo.submit], instance=instance, resources=resources, partition_key=sku)
    # Reporting always finds the deadline passed: each tick reports only the minimum (one).
    monkeypatch.setattr(results, "HEADROOM_S", -2 * 10.0)
    monkeypatch.setattr(results, "MIN_REPORTS", 1)
    monkeypatch.setattr(collect, "MIN_REPORTS", 1)
    cursor = None
    per_tick: list[list[str]] = []
    deadline = time.monotonic() + 60
    while sum(map(len, per_tick)) < len(SKUS) and time.monotonic() < deadline:
        result = tick(sensor, instance, resources, cursor)
        cursor = result.cursor
        landed = [
            e.partition or ""
            for e in result.asset_events or []
            if isinstance(e, dg.AssetMaterialization)
        ]
        assert len(landed) <= 1, landed
        assert len(result.run_requests or []) == len(landed)  # cut-outs only for what landed
        if landed:
            per_tick.append(landed)
        time.sleep(0.2)
    assert sorted(p for ps in per_tick for p in ps) == sorted(SKUS)  # each exactly once
    for _ in range(2):
        again = tick(sensor, instance, resources, cursor)
        cursor = again.cursor
        assert not [e for e in again.asset_events or [] if isinstance(e, dg.AssetMaterialization)]

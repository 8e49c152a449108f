"""Evaluating a sensor tick outside the daemon, the way the daemon does it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.sensor_definition import SensorExecutionData


def run_tick(
    sensor: dg.SensorDefinition,
    *,
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    resources: Mapping[str, Any],
    cursor: str | None,
) -> SensorExecutionData:
    """Evaluate one tick of ``sensor`` and store its asset events in ``instance`` as runless
    events, as the daemon would. Feed the returned ``cursor`` to the next tick; the run requests
    are returned, not launched.

    The demo command uses it to collect results without a daemon; tests and benchmarks use it to
    drive the result sensor tick by tick.
    """
    with dg.build_sensor_context(
        instance=instance, resources=dict(resources), cursor=cursor, definitions=definitions
    ) as context:
        data = sensor.evaluate_tick(context)
    for event in data.asset_events or []:
        instance.report_runless_asset_event(event)
    return data

"""The result sensor of deferred steps."""

from bria_dagster.sensors.collect import ResultCollector, TickLimits, TickReport
from bria_dagster.sensors.results import build_bria_result_sensor, default_tick_budget
from bria_dagster.sensors.ticks import run_tick

__all__ = [
    "ResultCollector",
    "TickLimits",
    "TickReport",
    "build_bria_result_sensor",
    "default_tick_budget",
    "run_tick",
]

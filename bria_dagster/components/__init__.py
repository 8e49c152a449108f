"""A Dagster Component for Bria steps, and its ``dg`` scaffolder.

This module is the package's ``dagster_dg_cli.registry_modules`` entry: ``dg list components``
lists :class:`BriaAssetsComponent` and ``dg scaffold defs
bria_dagster.components.BriaAssetsComponent <path>`` writes a ``defs.yaml`` for it.
"""

from bria_dagster.components.component import BriaAssetsComponent
from bria_dagster.components.models import (
    PartitionsModel,
    ResourcesModel,
    SensorModel,
    StepModel,
    TableModel,
)
from bria_dagster.components.scaffolder import BriaAssetsScaffolder, BriaAssetsScaffoldParams
from bria_dagster.components.templates import RequestTemplate

__all__ = [
    "BriaAssetsComponent",
    "BriaAssetsScaffoldParams",
    "BriaAssetsScaffolder",
    "PartitionsModel",
    "RequestTemplate",
    "ResourcesModel",
    "SensorModel",
    "StepModel",
    "TableModel",
]

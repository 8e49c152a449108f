"""``BriaAssetsComponent``: a pipeline of Bria steps declared in a ``defs.yaml``.

It builds what the Python factories build (:func:`~bria_dagster.assets.bria_asset`,
:func:`~bria_dagster.assets.bria_deferred_asset`,
:func:`~bria_dagster.sensors.build_bria_result_sensor`) by calling them: one asset (inline) or a
submit asset and a result asset (deferred) per step, their image checks, the result sensor when a
step is deferred, and the resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from bria_dagster.assets import (
    BriaImageIOManager,
    DeferredBriaAsset,
    RequestSet,
    StepInput,
    bria_asset,
    bria_deferred_asset,
)
from bria_dagster.assets.checks import CHECK_DIMENSIONS, SHAPE_FIELDS, applicable_checks
from bria_dagster.client.errors import BriaInputError
from bria_dagster.components.models import (
    PartitionsModel,
    ResourcesModel,
    SensorModel,
    StepModel,
    TableModel,
    operation_spec,
)
from bria_dagster.components.scaffolder import BriaAssetsScaffolder
from bria_dagster.components.tables import RowTable, load_table
from bria_dagster.components.templates import RequestTemplate, template_scope
from bria_dagster.sensors import TickLimits, build_bria_result_sensor

KIND_TAG_PREFIX = "dagster/kind/"

Built = dg.AssetsDefinition | DeferredBriaAsset


@dg.scaffold_with(BriaAssetsScaffolder)
class BriaAssetsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Bria steps as Dagster assets, declared in YAML.

    Each step names a catalog operation (``family`` + ``operation``) and a request template
    whose strings are Jinja over ``partition_key``, ``row`` (the partition's row of ``table``)
    and ``step`` (upstream images: ``step.image.data``). Steps run inline or deferred (a result
    sensor collects them); ``upstream`` links them. The component provides the ``bria``,
    ``bria_storage``, ``bria_ledger`` and ``bria_io_manager`` resources from ``resources``
    (values may be ``{{ env.NAME }}``). Override :meth:`get_asset_spec` to change how a step's
    asset is named, grouped, owned, tagged or described.
    """

    steps: list[StepModel] = Field(description="The Bria steps, in any order.")
    table: TableModel | None = None
    partitions: PartitionsModel | None = None
    resources: ResourcesModel | None = Field(
        default_factory=ResourcesModel,
        description="The resources to provide; null when another component provides them.",
    )
    webhooks: bool | None = Field(
        default=None,
        description="Deferred steps ask Bria for webhooks: true (needs resources.bria."
        "webhook_url), false (never), unset (when webhook_url is set).",
    )
    sensor: SensorModel = Field(default_factory=SensorModel)

    def get_asset_spec(self, step: StepModel) -> dg.AssetSpec:
        """The asset a step materializes its images as: key, group, description, owners, tags,
        kinds and metadata are taken from it (the rest is the factories'). Override in a
        subclass to name or label steps your way."""
        keys = {other.name: other.key() for other in self.steps}
        return dg.AssetSpec(
            key=step.key(),
            deps=[keys.get(name) or dg.AssetKey.from_user_string(name) for name in step.upstream],
            group_name=step.group_name,
            description=step.description,
            owners=step.owners,
            tags=step.tags,
            kinds={"bria", *(step.kinds or [])},
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The steps' assets and checks, the result sensor, and the resources."""
        limits = self.sensor.tick_limits()  # checked even when no step is deferred
        if self.partitions is not None:
            self.partitions.kind()  # exactly one kind, before the table is read
        table = self._table(context.path)
        partitions_def = self._partitions(table)
        built: dict[str, Built] = {}
        for index, step in _in_dependency_order(self.steps):
            built[step.name] = self._build_step(
                step, f"steps[{index}]", built, table, partitions_def
            )
        assets: list[Any] = []
        for item in built.values():
            assets.extend(item if isinstance(item, DeferredBriaAsset) else [item])
        defs = dg.Definitions(
            assets=assets,
            sensors=self._sensors(built, limits),
            resources=self._resources(),
        )
        return self._with_metadata(defs)

    def _build_step(
        self,
        step: StepModel,
        field: str,
        built: Mapping[str, Built],
        table: RowTable | None,
        partitions_def: dg.PartitionsDefinition | None,
    ) -> Built:
        spec = self.get_asset_spec(step)
        builder, fields = _builder(step, field, table)
        upstream = [built.get(name, name) for name in step.upstream]
        options: dict[str, Any] = {
            "upstream": upstream,
            "key_prefix": list(spec.key.path[:-1]),
            "partitions_def": partitions_def,
            "group_name": spec.group_name,
            "description": spec.description,
            "owners": list(spec.owners) or None,
            "tags": {k: v for k, v in spec.tags.items() if not k.startswith(KIND_TAG_PREFIX)}
            or None,
            "kinds": set(spec.kinds) - {"bria"} or None,
            "pool": step.pool,
        }
        name = spec.key.path[-1]
        if step.mode == "deferred":
            if step.checks is not True:
                raise BriaInputError(
                    f"{field}.checks", "a deferred step has the checks that apply to its operation"
                )
            return bria_deferred_asset(name, builder, **options)
        return bria_asset(name, builder, checks=_checks(step, builder, fields), **options)

    def _table(self, folder: Path) -> RowTable | None:
        if self.table is None:
            return None
        key = self.table.key or (self.partitions.column if self.partitions else None)
        if key is None:
            raise BriaInputError("table.key", "name the column holding each row's partition key")
        path = Path(self.table.path)
        return load_table(path if path.is_absolute() else folder / path, key)

    def _partitions(self, table: RowTable | None) -> dg.PartitionsDefinition | None:
        chosen = self.partitions
        if chosen is None:
            return None
        if chosen.static:
            return dg.StaticPartitionsDefinition(chosen.static)
        if chosen.dynamic:
            return dg.DynamicPartitionsDefinition(name=chosen.dynamic)
        if table is None:
            raise BriaInputError("partitions.column", "partitions from a column need a table")
        if table.key_column != chosen.column:
            raise BriaInputError(
                "table.key", f"is {table.key_column!r}; partitions come from {chosen.column!r}"
            )
        return dg.StaticPartitionsDefinition(table.keys)

    def _sensors(
        self, built: Mapping[str, Built], limits: TickLimits | None
    ) -> list[dg.SensorDefinition]:
        deferred = [item for item in built.values() if isinstance(item, DeferredBriaAsset)]
        if not deferred:
            return []
        after = _downstream_of(self.steps, {s.name for s in self.steps if s.mode == "deferred"})
        downstream = [item for name, item in built.items() if name in after]
        return [
            build_bria_result_sensor(
                deferred,
                name=self.sensor.name,
                downstream=[item for item in downstream if isinstance(item, dg.AssetsDefinition)],
                minimum_interval_seconds=self.sensor.minimum_interval_seconds,
                limits=limits,
                default_status=dg.DefaultSensorStatus.RUNNING
                if self.sensor.running
                else dg.DefaultSensorStatus.STOPPED,
            )
        ]

    def _resources(self) -> dict[str, Any]:
        if self.resources is None:
            return {}
        storage = self.resources.storage_resource()
        return {
            "bria": self.resources.bria_resource(self.webhooks),
            "bria_storage": storage,
            "bria_ledger": self.resources.ledger_resource(),
            "bria_io_manager": BriaImageIOManager(storage=storage),
        }

    def _with_metadata(self, defs: dg.Definitions) -> dg.Definitions:
        """Add the metadata :meth:`get_asset_spec` gives (the factories take none)."""
        extra = {spec.key: spec.metadata for spec in map(self.get_asset_spec, self.steps)}
        if not any(extra.values()):
            return defs

        def add(spec: dg.AssetSpec) -> dg.AssetSpec:
            found = extra.get(spec.key)
            return spec.merge_attributes(metadata=found) if found else spec

        return defs.map_asset_specs(func=add)


def _builder(
    step: StepModel, field: str, table: RowTable | None
) -> tuple[Callable[[StepInput], RequestSet], frozenset[str]]:
    """The step's request builder (rendering its template per partition) and the request
    fields its templates set."""
    spec = operation_spec(step.family, step.operation, field)
    if (step.request is None) == (step.variants is None):
        raise BriaInputError(f"{field}.request", "give a request or variants (one of the two)")
    names = frozenset({"partition_key", "step", *(["row"] if table is not None else [])})
    if step.request is not None:
        template = RequestTemplate(spec, step.request, field=f"{field}.request", names=names)

        def build_one(step_input: StepInput) -> RequestSet:
            return template.render(_scope(step_input, table))

        build_one.__annotations__ = {"step_input": StepInput, "return": template.model}
        return build_one, template.fields
    variants = {
        name: RequestTemplate(spec, body, field=f"{field}.variants.{name}", names=names)
        for name, body in (step.variants or {}).items()
    }
    if not variants:
        raise BriaInputError(f"{field}.variants", "name at least one variant")
    model = next(iter(variants.values())).model

    def build_variants(step_input: StepInput) -> RequestSet:
        scope = _scope(step_input, table)
        return {name: template.render(scope) for name, template in variants.items()}

    build_variants.__annotations__ = {"step_input": StepInput, "return": dict[str, model]}  # type: ignore[valid-type]
    return build_variants, frozenset().union(*(t.fields for t in variants.values()))


def _scope(step: StepInput, table: RowTable | None) -> dict[str, Any]:
    return template_scope(step, table.row(step.partition_key) if table is not None else None)


def _checks(
    step: StepModel, builder: Callable[[StepInput], RequestSet], fields: frozenset[str]
) -> bool | list[str]:
    """The inline step's checks: as written, or those of its operation, without
    ``image_dimensions`` when the templates ask for no size."""
    if step.checks is not True:
        return step.checks
    found = list(applicable_checks(builder))
    if not fields & SHAPE_FIELDS and CHECK_DIMENSIONS in found:
        found.remove(CHECK_DIMENSIONS)
    return found


def _in_dependency_order(steps: Sequence[StepModel]) -> list[tuple[int, StepModel]]:
    """The steps (with their index) so that each comes after the steps it names upstream."""
    by_name: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.name in by_name:
            raise BriaInputError(f"steps[{index}].name", f"{step.name!r} is used twice")
        by_name[step.name] = index
    ordered: list[tuple[int, StepModel]] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise BriaInputError(f"steps[{by_name[name]}].upstream", f"a cycle: {cycle}")
        state[name] = "visiting"
        step = steps[by_name[name]]
        for upstream in step.upstream:
            if upstream in by_name:
                visit(upstream, [*path, name])
        state[name] = "done"
        ordered.append((by_name[name], step))

    for step in steps:
        visit(step.name, [])
    return ordered


def _downstream_of(steps: Sequence[StepModel], roots: set[str]) -> set[str]:
    """The names of the steps that depend, directly or not, on any of ``roots``."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for step in steps:
            if step.name not in found and any(u in roots | found for u in step.upstream):
                found.add(step.name)
                changed = True
    return found - roots

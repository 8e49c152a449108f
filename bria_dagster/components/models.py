"""The YAML attributes of :class:`~bria_dagster.components.BriaAssetsComponent`, one model per
block: the steps, the table, the partitions, the result sensor and the resources."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import dagster as dg
import pydantic
from pydantic import Field

from bria_dagster.client.catalog import CATALOG, OperationSpec
from bria_dagster.client.errors import BriaInputError
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.sensors import TickLimits

ResourceT = TypeVar("ResourceT")

Body = Annotated[
    dict[str, Any] | None,
    dg.Resolver.passthrough(
        description="The request's fields; string values are Jinja templates over "
        "partition_key, row and step, rendered when the step runs."
    ),
]
"""A request template: kept as written at load (its Jinja is the step's, not the YAML's)."""

Variants = Annotated[
    dict[str, dict[str, Any]] | None,
    dg.Resolver.passthrough(description="Named request templates: one result per variant."),
]

JOB_OPERATIONS: dict[str, OperationSpec] = {
    spec.name: spec
    for spec in CATALOG.values()
    if spec.method == "POST" and spec.request_model is not None
}
"""Catalog operations by ``family.operation`` (``image.generate``, ``edit.remove_background``)."""


def operation_spec(family: str, operation: str, field: str) -> OperationSpec:
    """The catalog operation ``family.operation``; an error listing the family's operations."""
    name = f"{family}.{operation}"
    spec = JOB_OPERATIONS.get(name)
    if spec is not None:
        return spec
    families = sorted({key.rsplit(".", 1)[0] for key in JOB_OPERATIONS})
    if family not in families:
        raise BriaInputError(f"{field}.family", f"unknown family {family!r}; one of {families}")
    known = sorted(key.rsplit(".", 1)[1] for key in JOB_OPERATIONS if key.startswith(family + "."))
    raise BriaInputError(
        f"{field}.operation", f"{family} has no operation {operation!r}; one of {known}"
    )


class StepModel(dg.Model, dg.Resolvable):
    """One Bria step: an asset (inline) or a submit asset and a result asset (deferred)."""

    name: str = Field(description="The asset's name (its key, under key_prefix).")
    family: str = Field(description="The catalog family: image, edit, product, ads, video ...")
    operation: str = Field(description="The family's operation: generate, remove_background ...")
    request: Body = None
    variants: Variants = None
    mode: Literal["inline", "deferred"] = Field(
        default="inline",
        description="inline: the step waits for Bria; deferred: it submits, the result sensor "
        "materializes the result.",
    )
    upstream: list[str] = Field(
        default_factory=list,
        description="Steps of this component (by name) or other assets (key strings, 'a/b') "
        "whose images feed this one.",
    )
    key_prefix: str | list[str] | None = None
    group_name: str | None = None
    description: str | None = None
    owners: list[str] | None = None
    tags: dict[str, str] | None = None
    kinds: list[str] | None = Field(default=None, description="Added to 'bria'.")
    pool: str | None = Field(default="bria", description="The Dagster concurrency pool.")
    checks: bool | list[str] = Field(
        default=True,
        description="Inline steps: the image checks (true: those that apply to the operation).",
    )

    def key(self) -> dg.AssetKey:
        """The asset key the step's images are materialized under."""
        prefix = [self.key_prefix] if isinstance(self.key_prefix, str) else self.key_prefix
        return dg.AssetKey([*(prefix or []), self.name])


class TableModel(dg.Model, dg.Resolvable):
    """A CSV or Parquet table with one row per partition: ``row`` in request templates."""

    path: str = Field(description="The file, relative to the folder of defs.yaml.")
    key: str | None = Field(
        default=None,
        description="The column holding each row's partition key (default: partitions.column).",
    )


class PartitionsModel(dg.Model, dg.Resolvable):
    """Exactly one of: a static list, a column of the table, a dynamic partitions name."""

    static: list[str] | None = None
    column: str | None = Field(default=None, description="One partition per row of the table.")
    dynamic: str | None = Field(default=None, description="A DynamicPartitionsDefinition name.")

    def kind(self) -> str:
        """Which of the three is set; an error unless exactly one is."""
        given = [name for name in ("static", "column", "dynamic") if getattr(self, name)]
        if len(given) != 1:
            raise BriaInputError(
                "partitions", f"set exactly one of static, column, dynamic (got {given or 'none'})"
            )
        return given[0]


class SensorModel(dg.Model, dg.Resolvable):
    """The result sensor the component adds when a step is deferred."""

    name: str = "bria_results"
    minimum_interval_seconds: int = 30
    running: bool = Field(
        default=True, description="Start the sensor running (as build_bria_result_sensor does)."
    )
    limits: dict[str, float] | None = Field(
        default=None,
        description="TickLimits fields: budget_s, max_polls, max_stores, max_reports, "
        "max_job_attempts.",
    )

    def tick_limits(self) -> TickLimits | None:
        """The :class:`TickLimits` these attributes set (None: the sensor's defaults)."""
        if self.limits is None:
            return None
        try:
            values = {name: _limit_type(name)(value) for name, value in self.limits.items()}
            return TickLimits(**values)
        except TypeError as exc:
            raise BriaInputError("sensor.limits", str(exc)) from None


def _limit_type(name: str) -> type:
    """The type of a :class:`TickLimits` field."""
    return float if name == "budget_s" else int


SECRET_FIELDS = {
    "bria": {"api_token"},
    "storage": {"access_key_id", "secret_access_key"},
}
"""Fields a YAML never holds: a rendered ``{{ env.X }}`` would be stored and shown in the UI as
plain text. Name the variable instead (``api_token_env: BRIA_API_TOKEN``): it stays an
``EnvVar``, read when a step runs."""


class ResourcesModel(dg.Model, dg.Resolvable):
    """The resources the component provides (``resources: null`` to provide none).

    ``bria`` holds :class:`~bria_dagster.resources.BriaResource` fields (``base_url``, ``plan``,
    ``rate_limit_backend`` for the limiter, ``webhook_url``, the spend caps ...), ``storage``
    :class:`~bria_dagster.resources.BriaStorageResource` fields (``uri``, ``endpoint_url`` ...),
    ``ledger`` :class:`~bria_dagster.resources.BriaLedgerResource` fields (``url``,
    ``db_schema``). Secrets are named, not written: ``api_token_env``, ``access_key_id_env``,
    ``secret_access_key_env``. An empty value (an unset ``{{ env.X }}``) leaves the field's
    default.
    """

    bria: dict[str, Any] = Field(default_factory=dict)
    storage: dict[str, Any] = Field(default_factory=dict)
    ledger: dict[str, Any] = Field(default_factory=dict)

    def bria_resource(self, webhooks: bool | None) -> BriaResource:
        """The :class:`BriaResource`; ``webhooks`` False drops ``webhook_url``, True needs it."""
        fields = _fields("bria", self.bria)
        if webhooks is False:
            fields.pop("webhook_url", None)
        elif webhooks and not fields.get("webhook_url"):
            raise BriaInputError(
                "resources.bria.webhook_url", "webhooks: true needs the receiver's URL here"
            )
        return _build("bria", BriaResource, fields)

    def storage_resource(self) -> BriaStorageResource:
        """The :class:`BriaStorageResource`."""
        return _build("storage", BriaStorageResource, _fields("storage", self.storage))

    def ledger_resource(self) -> BriaLedgerResource:
        """The :class:`BriaLedgerResource`."""
        return _build("ledger", BriaLedgerResource, _fields("ledger", self.ledger))


def _fields(block: str, values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name in SECRET_FIELDS.get(block, set()):
            raise BriaInputError(
                f"resources.{block}.{name}",
                f"a secret is not written in YAML (it would be shown in the UI); set "
                f"{name}_env to the name of the environment variable that holds it",
            )
        if value is None or value == "":
            continue
        if name.endswith("_env") and name[: -len("_env")] in SECRET_FIELDS.get(block, set()):
            fields[name[: -len("_env")]] = dg.EnvVar(str(value))
        else:
            fields[name] = value
    return fields


def _build(block: str, resource: type[ResourceT], fields: dict[str, Any]) -> ResourceT:
    try:
        return resource(**fields)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "?"
        raise BriaInputError(f"resources.{block}.{where}", error["msg"]) from None

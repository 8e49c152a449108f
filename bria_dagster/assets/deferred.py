"""``bria_deferred_asset``: a step that submits and ends; the result sensor materializes it.

The factory makes two assets. ``<name>_requests`` is executed by runs: it plans and submits the
requests (through the ledger, as inline steps do) and materializes the request ids. ``<name>``
is the result, with the same storage layout and metadata as an inline step; it is not executed
by runs but materialized by :func:`~bria_dagster.sensors.build_bria_result_sensor` when Bria
finishes. Its checks are reported with it, and can be re-run from the UI.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from bria_dagster.assets import spend
from bria_dagster.assets.checks import applicable_checks, check_specs, latest_checks
from bria_dagster.assets.errors import step_failure
from bria_dagster.assets.execute import JobError
from bria_dagster.assets.factory import (
    BriaStepConfig,
    StepResources,
    as_builder,
    is_forced,
    plan_jobs,
)
from bria_dagster.assets.options import BriaStepOptions, takes_options
from bria_dagster.assets.plan import RequestBuilder
from bria_dagster.assets.stopping import watching_run
from bria_dagster.client.types import BriaRequest
from bria_dagster.ledger import EntryState, LedgerEntry
from bria_dagster.resources import BriaStorageResource
from bria_dagster.runtime import resource_of

REQUESTS_SUFFIX = "_requests"


@dataclass(frozen=True)
class DeferredBriaAsset:
    """The two assets (and the checks) of a deferred step. Iterate it into ``Definitions``;
    pass it as ``upstream`` to a later step (its images are the result asset's)."""

    submit: dg.AssetsDefinition
    result: dg.AssetSpec
    checks: dg.AssetChecksDefinition

    @property
    def key(self) -> dg.AssetKey:
        """The result asset's key."""
        return self.result.key

    @property
    def check_names(self) -> tuple[str, ...]:
        """The image checks the result asset has (those that apply to the step's operation)."""
        return tuple(key.name for key in self.checks.check_keys)

    @property
    def partitions_def(self) -> dg.PartitionsDefinition | None:
        """The partitions of both assets."""
        return self.result.partitions_def

    def __iter__(self) -> Iterator[dg.AssetsDefinition | dg.AssetSpec]:
        yield self.submit
        yield self.result
        yield self.checks


@takes_options(BriaStepOptions)
def bria_deferred_asset(
    name: str, request: RequestBuilder | BriaRequest, options: BriaStepOptions
) -> DeferredBriaAsset:
    """A deferred Bria step: the arguments of :func:`~bria_dagster.assets.bria_asset` but
    ``automation_condition`` and ``checks`` (the fields of :class:`BriaStepOptions`), one
    request per partition (fan out with partitions). Add
    :func:`~bria_dagster.sensors.build_bria_result_sensor` to collect the results.

    With ``BriaResource.webhook_url`` set, requests carry it and the sensor needs no status
    poll for a job whose webhook arrived (a poll remains the fallback for a lost delivery).
    """
    result_key = options.key(name)
    submit_key = options.key(name + REQUESTS_SUFFIX)
    builder = as_builder(request)
    storage_key = options.storage_key

    # Annotated: keyword arguments spread from a dict leave dg.asset's overloads untyped.
    submit_asset: Callable[[Callable[..., Any]], dg.AssetsDefinition] = dg.asset(
        **options.asset_arguments(
            submit_key,
            f"Submits the Bria requests of {name}; the result sensor materializes {name} when "
            "they finish.",
        ),
        output_required=False,  # a dry run (bria/dry_run) materializes nothing
    )

    @submit_asset
    def _submit(
        context: dg.AssetExecutionContext, config: BriaStepConfig
    ) -> Iterator[dg.MaterializeResult[Any]]:
        # A run terminated while this step submits: the submits finish (never cut a POST),
        # then the step fails without retry instead of materializing into a cancelled run.
        with watching_run(context, submit_key.to_user_string()):
            result = _submit_step(context, config)
        if result is not None:
            yield result

    def _submit_step(
        context: dg.AssetExecutionContext, config: BriaStepConfig
    ) -> dg.MaterializeResult[Any] | None:
        step = StepResources.of(context, options)
        jobs = plan_jobs(context, result_key, builder, options, step.store)
        per_partition: dict[str | None, int] = {}
        for job in jobs:
            per_partition[job.partition_key] = per_partition.get(job.partition_key, 0) + 1
        crowded = [key for key, count in per_partition.items() if count > 1]
        if crowded:
            raise dg.Failure(
                f"{result_key.to_user_string()}: a deferred step sends one request per "
                f"partition; partition {crowded[0]!r} asked for {per_partition[crowded[0]]}. "
                "Use partitions (or an inline step) for variants.",
                allow_retries=False,
            )
        forced = is_forced(context, config)
        caps = spend.before_sending(
            context, step.ledger, step.bria, result_key, jobs, forced, config.dry_run
        )
        if caps is None:
            return None
        entries = step.run(
            lambda runner: runner.submit(jobs),
            result_key,
            context,
            config,
            webhook_url=step.bria.webhook_url,
            caps=caps,
        )
        errors = [item for item in entries if isinstance(item, JobError)]
        if errors:
            raise step_failure(submit_key.to_user_string(), errors, 0)
        live = [item for item in entries if isinstance(item, LedgerEntry)]
        return dg.MaterializeResult(metadata=_submit_metadata(live, context.run.run_id))

    result = dg.AssetSpec(
        key=result_key,
        deps=[submit_key],
        metadata={"bria/mode": "deferred"},
        **options.spec_arguments(
            options.description
            or f"Bria results of {name}, materialized by the result sensor as jobs finish."
        ),
    ).with_io_manager_key(options.io_manager_key)

    @dg.multi_asset_check(
        specs=check_specs(result_key, applicable_checks(request)),
        name=f"{'__'.join(result_key.path)}_image_checks",
        required_resource_keys={storage_key},
        can_subset=True,
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        store = resource_of(context, storage_key, BriaStorageResource).get_store()
        yield from latest_checks(context, result_key, store)

    return DeferredBriaAsset(submit=_submit, result=result, checks=_checks)


def _submit_metadata(entries: list[LedgerEntry], run_id: str) -> dict[str, dg.MetadataValue]:
    states = {state: 0 for state in ("submitted", "resumed", "already_done")}
    for entry in entries:
        if entry.state is EntryState.PENDING and entry.run_id == run_id and entry.poll_count == 0:
            states["submitted"] += 1
        elif entry.state is EntryState.PENDING:
            states["resumed"] += 1
        else:
            states["already_done"] += 1
    return {
        "bria/request_ids": dg.MetadataValue.json([e.request_id for e in entries]),
        "bria/ledger_ids": dg.MetadataValue.json([e.id for e in entries]),
        **{f"bria/{name}": dg.MetadataValue.int(count) for name, count in states.items()},
    }

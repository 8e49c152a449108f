"""``bria_deferred_asset``: a step that submits and ends; the result sensor materializes it.

The factory makes two assets. ``<name>_requests`` is executed by runs: it plans and submits the
requests (through the ledger, as inline steps do) and materializes the request ids. ``<name>``
is the result, with the same storage layout and metadata as an inline step; it is not executed
by runs but materialized by :func:`~bria_dagster.sensors.build_bria_result_sensor` when Bria
finishes. Its checks are reported with it, and can be re-run from the UI.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from bria_dagster.assets import spend
from bria_dagster.assets.checks import check_specs
from bria_dagster.assets.errors import DEFAULT_RETRY_POLICY, step_failure
from bria_dagster.assets.execute import JobError
from bria_dagster.assets.factory import (
    BriaStepConfig,
    StepResources,
    Upstream,
    as_builder,
    is_forced,
    key_of,
    key_prefix_parts,
    latest_checks,
    plan_jobs,
    resource_of,
    run_blocking,
    upstream_list,
)
from bria_dagster.assets.plan import RequestBuilder
from bria_dagster.assets.records import METADATA_IMAGES, ImageRecord
from bria_dagster.assets.stopping import watching_run
from bria_dagster.client.catalog import BriaRequest
from bria_dagster.ledger import EntryState, LedgerEntry
from bria_dagster.resources import BriaStorageResource

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
    def partitions_def(self) -> dg.PartitionsDefinition | None:
        """The partitions of both assets."""
        return self.result.partitions_def

    def __iter__(self) -> Iterator[dg.AssetsDefinition | dg.AssetSpec]:
        yield self.submit
        yield self.result
        yield self.checks


def bria_deferred_asset(
    name: str,
    request: RequestBuilder | BriaRequest,
    *,
    upstream: Upstream | Sequence[Upstream] | None = None,
    key_prefix: str | Sequence[str] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    group_name: str | None = None,
    description: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    kinds: set[str] | None = None,
    pool: str | None = "bria",
    retry_policy: dg.RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: dg.BackfillPolicy | None = None,
    bria_key: str = "bria",
    storage_key: str = "bria_storage",
    ledger_key: str = "bria_ledger",
) -> DeferredBriaAsset:
    """A deferred Bria step: same arguments as :func:`~bria_dagster.assets.bria_asset`, one
    request per partition (fan out with partitions). Add
    :func:`~bria_dagster.sensors.build_bria_result_sensor` to collect the results.

    With ``BriaResource.webhook_url`` set, requests carry it and the sensor needs no status
    poll for a job whose webhook arrived (a poll remains the fallback for a lost delivery).
    """
    prefix = key_prefix_parts(key_prefix)
    result_key = dg.AssetKey([*prefix, name])
    submit_key = dg.AssetKey([*prefix, name + REQUESTS_SUFFIX])
    builder = as_builder(request)
    upstream_defs = upstream_list(upstream)
    all_kinds = {"bria", *(kinds or set())}

    @dg.asset(
        key=submit_key,
        deps=[key_of(item) for item in upstream_defs],
        partitions_def=partitions_def,
        group_name=group_name,
        description=f"Submits the Bria requests of {name}; the result sensor materializes "
        f"{name} when they finish.",
        owners=owners,
        tags=tags,
        kinds=all_kinds,
        pool=pool,
        backfill_policy=backfill_policy,
        retry_policy=retry_policy,
        required_resource_keys={bria_key, storage_key, ledger_key},
        output_required=False,  # a dry run (bria/dry_run) materializes nothing
    )
    def _submit(
        context: dg.AssetExecutionContext, config: BriaStepConfig
    ) -> Iterator[dg.MaterializeResult]:
        # A run terminated while this step submits: the submits finish (never cut a POST),
        # then the step fails without retry instead of materializing into a cancelled run.
        with watching_run(context, submit_key.to_user_string()):
            result = _submit_step(context, config)
        if result is not None:
            yield result

    def _submit_step(
        context: dg.AssetExecutionContext, config: BriaStepConfig
    ) -> dg.MaterializeResult | None:
        step = StepResources.of(context, bria_key, storage_key, ledger_key)
        jobs = plan_jobs(context, result_key, builder, upstream_defs, partitions_def, step.store)
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
        caps = spend.before_sending(context, step, result_key, jobs, forced, config.dry_run)
        if caps is None:
            return None
        entries = run_blocking(
            step.run(
                lambda runner: runner.submit(jobs),
                result_key,
                context,
                force=forced,
                webhook_url=step.bria.webhook_url,
                caps=caps,
            )
        )
        errors = [item for item in entries if isinstance(item, JobError)]
        if errors:
            raise step_failure(submit_key.to_user_string(), errors, 0)
        live = [item for item in entries if isinstance(item, LedgerEntry)]
        return dg.MaterializeResult(metadata=_submit_metadata(live, context.run.run_id))

    result = dg.AssetSpec(
        key=result_key,
        deps=[submit_key],
        partitions_def=partitions_def,
        group_name=group_name,
        description=description
        or f"Bria results of {name}, materialized by the result sensor as jobs finish.",
        owners=owners,
        tags=tags,
        kinds=all_kinds,
        metadata={"bria/mode": "deferred"},
    )

    @dg.multi_asset_check(
        specs=check_specs(result_key),
        name=f"{'__'.join(result_key.path)}_image_checks",
        required_resource_keys={storage_key},
        can_subset=True,
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        store = resource_of(context, storage_key, BriaStorageResource).get_store()
        yield from latest_checks(context, result_key, store)

    return DeferredBriaAsset(submit=_submit, result=result, checks=_checks)


def latest_records(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[ImageRecord]:
    """The records of ``key``'s latest materialization (any partition)."""
    found = instance.fetch_materializations(key, limit=1).records
    if not found or found[0].asset_materialization is None:
        return []
    value = found[0].asset_materialization.metadata.get(METADATA_IMAGES)
    return [ImageRecord.from_json(item) for item in (value.value if value else [])]


def _submit_metadata(entries: list[LedgerEntry], run_id: str) -> dict[str, object]:
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

"""``bria_asset``: a software-defined asset for one Bria step (generation, edit, product, ads)."""

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import dagster as dg
import pydantic

from bria_dagster.assets import spend
from bria_dagster.assets.checks import (
    Verified,
    applicable_checks,
    check_specs,
    evaluate,
    latest_checks,
    merge_verified,
    verify_stored,
)
from bria_dagster.assets.errors import step_failure
from bria_dagster.assets.execute import StepRunner
from bria_dagster.assets.metadata import cost_metadata, materialization_metadata, usage_delta
from bria_dagster.assets.options import (
    BriaAssetOptions,
    BriaStepOptions,
    Upstream,
    key_of,
    takes_options,
)
from bria_dagster.assets.plan import PlannedJob, RequestBuilder, RequestSet, plan_step
from bria_dagster.assets.preflight import checked_client, checked_ledger, checked_store
from bria_dagster.assets.step import StepInput, UpstreamImage
from bria_dagster.assets.stopping import watching_run
from bria_dagster.assets.upstream import upstream_images, upstream_model_id
from bria_dagster.client import BriaClient
from bria_dagster.client.catalog import CATALOG
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import BriaRequest, to_input_error
from bria_dagster.ledger import Ledger, SpendCaps
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.results.records import ImageRecord
from bria_dagster.runtime import resource_of, run_blocking
from bria_dagster.storage import ObjectStore, StorageInputError

FORCE_TAG = "bria/force"
"""Run tag that forces new, paid requests for every job of the run (``"true"``)."""

T = TypeVar("T")


class BriaStepConfig(dg.Config):
    """Run config of a Bria step."""

    force: bool = False
    """Send new (paid) requests even where the same request already has a stored result."""
    dry_run: bool = False
    """Plan and price the step's requests, send none (also: run tag ``bria/dry_run=true``)."""


@takes_options(BriaAssetOptions)
def bria_asset(
    name: str, request: RequestBuilder | BriaRequest, options: BriaAssetOptions
) -> dg.AssetsDefinition:
    """An asset whose materialization runs Bria requests and stores their results.

    ``request`` is a catalog request (the same for every partition) or a function of a
    :class:`StepInput` returning one request, a list, or a dict of named variants. ``upstream``
    assets feed their stored images to it (``step.image``), which also draws the lineage.

    Per partition, the step plans its requests (validated before any HTTP call), then submits
    them together under the shared rate limiter, waits with one polling loop, streams each
    result into the object store (write-once, with provenance) and materializes with the
    request ids, prompts, seeds, storage URIs, sizes, dimensions, sha256, timings, API usage and
    an image preview. Each request goes through the ledger: a result already stored for the same
    request is reused (no second payment) unless the run is forced (config ``force: true`` or
    tag ``bria/force=true``); a retried step resumes its request ids.

    The keyword arguments are the fields of :class:`BriaAssetOptions`.
    """
    key = options.key(name)
    builder = as_builder(request)
    checks = applicable_checks(request, options.checks)

    # A multi_asset of one skippable spec: a dry run (bria/dry_run) yields neither the asset
    # nor its checks, and the run still succeeds.
    @dg.multi_asset(
        name=key.to_python_identifier(),
        specs=[
            options.image_spec(
                key,
                [key_of(item) for item in options.upstream_steps],
                f"Bria step {name}: requests built per partition, results stored in object "
                "storage.",
                automation_condition=options.automation_condition,
            )
        ],
        partitions_def=options.partitions_def,
        pool=options.pool,
        retry_policy=options.retry_policy,
        backfill_policy=options.backfill_policy,
        check_specs=check_specs(key, checks) if checks else None,
        can_subset=True,
        required_resource_keys={options.bria_key, options.storage_key, options.ledger_key},
    )
    def _bria_step(
        context: dg.AssetExecutionContext, config: BriaStepConfig
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        if key not in context.selected_asset_keys:
            # Only the checks were selected (re-run from the UI): check the latest images.
            store = resource_of(context, options.storage_key, BriaStorageResource).get_store()
            yield from latest_checks(context, key, store)
            return
        with watching_run(context, key.to_user_string()) as stop:
            step = StepResources.of(context, options)
            jobs = plan_jobs(context, key, builder, options, step.store)
            caps = spend.before_sending(
                context,
                step.ledger,
                step.bria,
                key,
                jobs,
                is_forced(context, config),
                config.dry_run,
            )
            if caps is None:
                return  # a dry run: priced, nothing sent or materialized
            before = step.client.usage()
            outcome = step.run(
                lambda runner: runner.run(jobs), key, context, config, stop=stop, caps=caps
            )
            usage = usage_delta(before, step.client.usage())
            usage["billed_jobs"] = step.ledger.billed_in_run(
                key.to_user_string(), context.run.run_id
            )
            store = step.store
            if outcome.errors:
                raise step_failure(key.to_user_string(), outcome.errors, len(outcome.records))
            context.log.info(
                "%d result(s) stored, %d reused; %d API calls, %d status polls",
                len(outcome.records),
                sum(r.reused for r in outcome.records),
                usage["api_calls"],
                usage["status_polls"],
            )
            if options.partitions_def is not None and len(context.partition_keys) > 1:
                verified = per_partition_metadata(context, key, store, outcome.records)
                metadata = cost_metadata(usage)
            else:
                verified = verify_stored(store, outcome.records)
                metadata = materialization_metadata(outcome.records, verified.previews, usage)
            yield dg.MaterializeResult(
                metadata=metadata,
                check_results=evaluate(outcome.records, verified, checks) if checks else None,
            )

    return _bria_step


def per_partition_metadata(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    store: ObjectStore,
    records: Sequence[ImageRecord],
) -> Verified:
    """A run over several partitions (a ``single_run`` or ``multi_run`` backfill): each
    partition's materialization gets the metadata of its own images (ids, URIs, previews), not
    the whole run's; what reading them back found, for the checks."""
    by_partition: dict[str | None, list[ImageRecord]] = {}
    for record in records:
        by_partition.setdefault(record.partition_key, []).append(record)
    found = []
    for partition_key, own in by_partition.items():
        verified = verify_stored(store, own)
        found.append(verified)
        context.add_asset_metadata(
            materialization_metadata(own, verified.previews, None),
            asset_key=key,
            partition_key=partition_key,
        )
    return merge_verified(found)


def plan_jobs(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    builder: RequestBuilder,
    options: BriaStepOptions,
    store: ObjectStore,
) -> list[PlannedJob]:
    """Build and validate the step's requests for every partition of the run (no HTTP)."""
    upstream_defs = options.upstream_steps
    partitions_def = options.partitions_def
    partition_keys: list[str | None] = (
        list(context.partition_keys) if partitions_def is not None else [None]
    )
    jobs: list[PlannedJob] = []
    for partition_key in partition_keys:
        step = StepInput(
            asset_key=key.to_user_string(),
            partition_key=partition_key,
            dimensions=_dimensions(partition_key, partitions_def),
            upstream={
                key_of(item).to_user_string(): _load_upstream(
                    context, item, partition_key, partitions_def, store
                )
                for item in upstream_defs
                if not getattr(item, "is_tailored_model", False)
            },
            tailored_models={
                key_of(item).to_user_string(): upstream_model_id(context.instance, key_of(item))
                for item in upstream_defs
                if getattr(item, "is_tailored_model", False)
            },
        )
        try:
            jobs.extend(plan_step(build_requests(builder, step), step))
        except (BriaInputError, StorageInputError) as exc:
            raise dg.Failure(
                description=f"{key.to_user_string()} [{partition_key}]: bad request: {exc}",
                metadata={"field": exc.field, "partition": str(partition_key)},
                allow_retries=False,
            ) from exc
    return jobs


def build_requests(builder: RequestBuilder, step: StepInput) -> RequestSet:
    """Call the request builder; a request model it failed to build (a pydantic error: a value
    out of range, an unknown field, an empty upstream image) becomes a :class:`BriaInputError`
    naming the field, as input errors are never worth a retry."""
    try:
        return builder(step)
    except pydantic.ValidationError as exc:
        raise to_input_error(exc, request_model_named(exc.title)) from None


def request_model_named(name: str) -> type[BriaRequest] | None:
    """The catalog's request model of that class name (for "did you mean" hints), or None."""
    for spec in CATALOG.values():
        if spec.request_model is not None and spec.request_model.__name__ == name:
            return spec.request_model
    return None


def is_forced(context: dg.AssetExecutionContext, config: BriaStepConfig) -> bool:
    """Whether the run asks for new, paid requests (config ``force`` or tag ``bria/force``)."""
    return config.force or context.run.tags.get(FORCE_TAG, "").lower() == "true"


@dataclass(frozen=True)
class StepResources:
    """The client, store and ledger a Bria step works with."""

    bria: BriaResource
    client: BriaClient
    store: ObjectStore
    ledger: Ledger

    @classmethod
    def of(cls, context: dg.AssetExecutionContext, options: BriaStepOptions) -> "StepResources":
        """Read the three resources from the step's context and check them once (see
        :mod:`~bria_dagster.assets.preflight`): a wrong setting fails the step before any
        request, without retry."""
        bria = resource_of(context, options.bria_key, BriaResource)
        return cls(
            bria=bria,
            client=checked_client(bria),
            ledger=checked_ledger(resource_of(context, options.ledger_key, BriaLedgerResource)),
            store=checked_store(resource_of(context, options.storage_key, BriaStorageResource)),
        )

    def run(
        self,
        work: Callable[[StepRunner], Awaitable[T]],
        key: dg.AssetKey,
        context: dg.AssetExecutionContext,
        config: BriaStepConfig,
        *,
        webhook_url: str | None = None,
        stop: Callable[[], bool] | None = None,
        caps: SpendCaps | None = None,
    ) -> T:
        """Run ``work`` to its end with a :class:`StepRunner` on an async view of the client,
        forced as the run asks (:func:`is_forced`); ``stop`` says when the run was terminated
        (``bria_dagster.assets.stopping``); ``caps`` are taken as each request leaves."""

        async def with_runner() -> T:
            async with self.client.async_view() as aclient:
                runner = StepRunner(
                    client=aclient,
                    ledger=self.ledger,
                    store=self.store,
                    asset_key=key.to_user_string(),
                    run_id=context.run.run_id,
                    force=is_forced(context, config),
                    webhook_url=webhook_url,
                    log=context.log,
                    stop=stop,
                    caps=caps,
                )
                return await work(runner)

        return run_blocking(with_runner())


def _load_upstream(
    context: dg.AssetExecutionContext,
    item: Upstream,
    partition_key: str | None,
    partitions_def: dg.PartitionsDefinition | None,
    store: ObjectStore,
) -> tuple[UpstreamImage, ...]:
    upstream_partitions = getattr(item, "partitions_def", partitions_def)
    return upstream_images(
        context.instance,
        key_of(item),
        partition_key if upstream_partitions is not None else None,
        store,
    )


def _dimensions(
    partition_key: str | None, partitions_def: dg.PartitionsDefinition | None
) -> dict[str, str]:
    if partition_key is None or not isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {}
    return dict(partitions_def.get_partition_key_from_str(partition_key).keys_by_dimension)


def as_builder(request: RequestBuilder | BriaRequest) -> RequestBuilder:
    """A request builder from a fixed request or a function of :class:`StepInput`."""
    if isinstance(request, BriaRequest):
        return lambda _step: request
    if not callable(request):
        raise BriaInputError(
            "request", f"must be a catalog request or a function of StepInput, got {request!r}"
        )
    return request

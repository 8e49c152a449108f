"""``bria_deferred_asset``: a step that submits and ends; the result sensor collects it.

The factory makes two assets. ``<name>_requests`` plans and submits the requests (through the
ledger, as inline steps do) and materializes the request ids. ``<name>`` is the result, with the
same storage layout, metadata and checks as an inline step. The result sensor
(:func:`~bria_dagster.sensors.build_bria_result_sensor`) polls and stores every result. It
reports the result as a runless materialization, unless a run waits for it: a run that selects
``<name>`` (a backfill of the chain, or one run of both assets) reads the ledger until the sensor
has stored its partitions' results, then materializes them, with no Bria call. That is how a
backfill spans the wait: Dagster counts only its own runs' materializations, and it runs the
steps after the result itself (see :mod:`bria_dagster.sensors.owners`).
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg

from bria_dagster.assets import spend
from bria_dagster.assets.checks import (
    PREVIEWS,
    applicable_checks,
    check_specs,
    evaluate,
    latest_checks,
    verify_stored,
)
from bria_dagster.assets.errors import step_failure
from bria_dagster.assets.execute import JobError
from bria_dagster.assets.factory import (
    BriaStepConfig,
    StepResources,
    as_builder,
    is_forced,
    plan_jobs,
)
from bria_dagster.assets.metadata import (
    cost_metadata,
    deferred_result_usage,
    materialization_metadata,
    usage_delta,
)
from bria_dagster.assets.options import BriaStepOptions, takes_options
from bria_dagster.assets.plan import PlannedJob, RequestBuilder
from bria_dagster.assets.preflight import checked_ledger, checked_store
from bria_dagster.assets.stopping import RunStopWatch, watching_run
from bria_dagster.client.types import BriaRequest
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.results.storing import inspect_stored
from bria_dagster.runtime import resource_of

REQUESTS_SUFFIX = "_requests"
RESULT_WAIT_POLL_S = 2.0
"""How often a run materializing a result asset reads the ledger while it waits."""
_ENDED = (EntryState.ABANDONED, EntryState.AMBIGUOUS)


@dataclass(frozen=True)
class DeferredBriaAsset:
    """The two assets of a deferred step. Iterate it into ``Definitions``; pass it as
    ``upstream`` to a later step (its images are the result asset's)."""

    submit: dg.AssetsDefinition
    result: dg.AssetsDefinition
    """The result asset, with the image checks."""

    @property
    def key(self) -> dg.AssetKey:
        """The result asset's key."""
        return self.result.key

    @property
    def checks(self) -> dg.AssetsDefinition:
        """The definition holding the result's image checks (the result asset's)."""
        return self.result

    @property
    def check_names(self) -> tuple[str, ...]:
        """The image checks the result asset has (those that apply to the step's operation)."""
        return tuple(key.name for key in self.result.check_keys)

    @property
    def partitions_def(self) -> dg.PartitionsDefinition | None:
        """The partitions of both assets."""
        return self.result.partitions_def

    def __iter__(self) -> Iterator[dg.AssetsDefinition]:
        yield self.submit
        yield self.result


@takes_options(BriaStepOptions)
def bria_deferred_asset(
    name: str, request: RequestBuilder | BriaRequest, options: BriaStepOptions
) -> DeferredBriaAsset:
    """A deferred Bria step: the arguments of :func:`~bria_dagster.assets.bria_asset` but
    ``checks`` (the fields of :class:`BriaStepOptions`), one request per partition (fan out
    with partitions). Add :func:`~bria_dagster.sensors.build_bria_result_sensor` to collect the
    results. ``automation_condition`` applies to the submit asset.

    The result asset is materialized in one of two ways (see :mod:`~bria_dagster.assets.deferred`):
    by the sensor, as a runless event, when nothing else waits for the request; or by a run that
    selects the result asset (a backfill of the chain, or a run of both assets), which waits on
    the ledger without calling Bria until the sensor has stored the result.

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
        before = step.client.usage()
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
        usage = usage_delta(before, step.client.usage())
        usage["billed_jobs"] = step.ledger.billed_in_run(
            result_key.to_user_string(), context.run.run_id
        )
        metadata = _submit_metadata(live, context.run.run_id) | cost_metadata(usage)
        return dg.MaterializeResult(metadata=metadata)

    checks = applicable_checks(request)

    @dg.multi_asset(
        name=result_key.to_python_identifier(),
        specs=[
            options.image_spec(
                result_key,
                [submit_key],
                f"Bria results of {name}: reported by the result sensor as jobs finish, or "
                "materialized by a run (a backfill) once the sensor has stored them.",
                metadata={"bria/mode": "deferred"},
            )
        ],
        partitions_def=options.partitions_def,
        backfill_policy=options.backfill_policy,
        check_specs=check_specs(result_key, checks),
        can_subset=True,
        required_resource_keys={options.bria_key, storage_key, options.ledger_key},
    )
    def _result(
        context: dg.AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        store = checked_store(resource_of(context, storage_key, BriaStorageResource))
        if result_key not in context.selected_asset_keys:
            # Only the checks were selected (re-run from the UI): check the latest images.
            yield from latest_checks(context, result_key, store)
            return
        ledger = checked_ledger(resource_of(context, options.ledger_key, BriaLedgerResource))
        bria = resource_of(context, options.bria_key, BriaResource)
        jobs = plan_jobs(context, result_key, builder, options, store)
        with watching_run(context, result_key.to_user_string()) as stop:
            entries = [
                wait_for_stored(
                    ledger,
                    result_key.to_user_string(),
                    job,
                    stop,
                    timeout_s=bria.wait_timeout_s,
                    log=context.log,
                )
                for job in jobs
            ]
        # One decode per image, shared by the checks, the metadata and the previews.
        inspected = [
            inspect_stored(store, entry, preview=index < PREVIEWS)
            for index, entry in enumerate(entries)
        ]
        records = [record for record, _ in inspected]
        verified = verify_stored(store, records, {r.key: facts for r, facts in inspected})
        billed = ledger.billed_per_entry([entry.id for entry in entries])
        usage = deferred_result_usage([(entry, billed.get(entry.id, 0)) for entry in entries])
        yield dg.MaterializeResult(
            asset_key=result_key,
            metadata=materialization_metadata(records, verified.previews, usage),
            check_results=evaluate(records, verified, checks),
        )
        # After the event is stored: a crash in between leaves the entry to the sensor (reported
        # twice at worst, never lost).
        ledger.mark_reported([entry.id for entry in entries])

    return DeferredBriaAsset(submit=_submit, result=_result)


def wait_for_stored(
    ledger: Ledger,
    asset_key: str,
    job: PlannedJob,
    stop: RunStopWatch,
    *,
    timeout_s: float,
    log: logging.Logger | Any,
) -> LedgerEntry:
    """The ledger entry of ``job`` once the result sensor has stored its result. Reads the
    ledger every :data:`RESULT_WAIT_POLL_S` (no Bria call); fails, without retry, when the
    request was never submitted, ended for good, or has not changed for ``timeout_s``."""
    where = f"{asset_key} [{job.label}]"
    seen: tuple[object, ...] | None = None
    changed_at = time.monotonic()
    logged = False
    while True:
        entry = ledger.latest(asset_key, job.partition_key, job.payload_hash)
        if entry is None:
            raise dg.Failure(
                f"{where}: no request was submitted; materialize {asset_key}{REQUESTS_SUFFIX} "
                "first (or with it)",
                allow_retries=False,
            )
        if entry.state is EntryState.STORED:
            return entry
        if entry.state in _ENDED or (entry.state is EntryState.FAILED and not entry.retryable):
            raise dg.Failure(
                f"{where}: request {entry.request_id} (ledger id {entry.id}) is {entry.state}: "
                f"{entry.error_message or 'see `bria-ledger attention`'}",
                metadata={"ledger_id": entry.id, "request_id": entry.request_id or ""},
                allow_retries=False,
            )
        marker = (entry.state, entry.attempts, entry.poll_count, entry.updated_at)
        now = time.monotonic()
        if marker != seen:
            seen, changed_at = marker, now
        elif now - changed_at > timeout_s:
            last = f" after attempt {entry.attempts}: {entry.error_message}"
            raise dg.Failure(
                f"{where}: request {entry.request_id} unchanged for {timeout_s:.0f} s "
                f"(BriaResource.wait_timeout_s) in state {entry.state}"
                f"{last if entry.state is EntryState.FAILED else ''}; is the result sensor "
                "running (and resubmitting)? See `bria-ledger attention`.",
                metadata={"ledger_id": entry.id, "request_id": entry.request_id or ""},
                allow_retries=False,
            )
        if not logged:
            log.info("%s: waiting for the result sensor to store request %s", where, entry.id)
            logged = True
        stop.raise_if_stopped(asset_key)
        time.sleep(RESULT_WAIT_POLL_S)


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

"""``build_bria_result_sensor``: materializes deferred steps' results as Bria finishes them."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, Sequence

import dagster as dg

from bria_dagster.assets.checks import Verified, evaluate, merge_verified, verify_stored
from bria_dagster.assets.deferred import DeferredBriaAsset
from bria_dagster.assets.metadata import deferred_result_usage, materialization_metadata
from bria_dagster.assets.tailored import TailoredModelAsset, model_materialization
from bria_dagster.client.errors import BriaInputError
from bria_dagster.failpoints import crash_point
from bria_dagster.ledger import LedgerEntry
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource
from bria_dagster.results.records import ImageRecord
from bria_dagster.runtime import resource_of, run_blocking
from bria_dagster.sensors.collect import MIN_REPORTS, ResultCollector, TickLimits, TickReport
from bria_dagster.sensors.downstream import (
    RANGE_SENSOR_TAG,
    chunk_requests,
    contiguous_ranges,
    range_run_queued,
    ranges_due,
    shared_policy,
)
from bria_dagster.sensors.owners import PRIORITY_TAG, SubmitRuns

GRPC_TIMEOUT_ENV = ("DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS", "DAGSTER_GRPC_TIMEOUT_SECONDS")
DEFAULT_GRPC_TIMEOUT_S = 60.0
HEADROOM_S = 20.0


def default_tick_budget() -> float:
    """The sensor's gRPC deadline (60 s unless configured) less 20 s, at most 40 s."""
    for name in GRPC_TIMEOUT_ENV:
        value = os.environ.get(name)
        if value:
            try:
                return max(5.0, min(40.0, float(value) - HEADROOM_S))
            except ValueError:
                break
    return DEFAULT_GRPC_TIMEOUT_S - HEADROOM_S


def build_bria_result_sensor(
    steps: Sequence[DeferredBriaAsset | TailoredModelAsset],
    *,
    name: str = "bria_results",
    downstream: Sequence[dg.AssetsDefinition | dg.AssetKey] = (),
    minimum_interval_seconds: int = 30,
    limits: TickLimits | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    run_tags: Mapping[str, str] | None = None,
    run_priority: int | None = None,
    bria_key: str = "bria",
    storage_key: str = "bria_storage",
    ledger_key: str = "bria_ledger",
) -> dg.SensorDefinition:
    """A sensor that collects the results of deferred ``steps`` and the trainings of tailored
    models (:func:`~bria_dagster.assets.bria_tailored_model`); RUNNING by default (a stopped one
    collects nothing, and runs waiting on results wait until they time out).

    Each tick claims the due pending requests (oldest first, at most ``limits.max_polls``),
    polls them within the client's status budget, stores finished results (write-once, same
    keys as inline steps) and reports each as a runless materialization of the step's result
    asset, with the same metadata and check results as an inline step. The tick stops at its
    budget and says in its log how much is left. Jobs that end in ERROR/UNKNOWN are resubmitted
    by running their submit step again (up to ``limits.max_job_attempts`` tries, never for a
    moderation refusal); their failure is reported as an observation and a failed check with
    Bria's message. ``downstream`` assets get a run for each partition that lands; when they
    all have a ``backfill_policy``, runs over contiguous ranges of the partitions that landed,
    partitions held back (in the cursor) for a while so that the ranges grow (see
    :mod:`~bria_dagster.sensors.downstream`). An asset with an ``automation_condition`` is
    refused there (the automation daemon already runs it when the result lands, so it would run
    twice).

    A result that a run waits for is handed to that run: the request's submit run selected the
    result asset too, or belongs to a backfill (in progress) that targets it. The sensor then
    stores the result, flags it reported without an event, and the run materializes it; the
    backfill runs what comes after. Runs the
    sensor asks for (downstream steps, resubmissions) carry ``run_tags``, ``run_priority`` (the
    ``dagster/priority`` tag: higher leaves the run queue first) and the backfill tags of the
    submit run they follow (on a resubmission, ``dagster/backfill`` and the like while that
    backfill is in progress, so it waits for the new attempt; ``bria/backfill`` on a downstream
    run).

    Exactly-once reporting: the ledger flags an entry ``reported`` at the tick after the one
    that reported it (the cursor carries the ids), so a tick that failed before Dagster stored
    its events is reported again, and a stored event is never reported twice.

    A tailored model's training row is followed the same way, by polling the model: when it
    completes, the model asset is materialized (model, project and dataset ids, image count,
    training time); a training that fails is reported as a failed observation, not retried.
    """
    keys = {
        step.key.to_user_string(): step for step in steps if isinstance(step, DeferredBriaAsset)
    }
    models = {
        step.key.to_user_string(): step for step in steps if isinstance(step, TailoredModelAsset)
    }
    submit_keys = [step.submit.key for step in steps]
    downstream_keys = [_downstream_key(item) for item in downstream]
    tick_limits = limits or TickLimits(budget_s=default_tick_budget())
    batching = shared_policy(downstream) if downstream_keys else None
    owner = f"{name}@{socket.gethostname()}:{os.getpid()}"
    base_tags = dict(run_tags or {})
    if run_priority is not None:
        base_tags[PRIORITY_TAG] = str(run_priority)

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        target=dg.AssetSelection.assets(*submit_keys, *downstream_keys),
        required_resource_keys={bria_key, storage_key, ledger_key},
        description="Collects finished Bria jobs of deferred steps into object storage and "
        "materializes their result assets.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        # Reading back and reporting what the tick stored takes time too: it stops half-way
        # into the headroom left under Dagster's deadline (an evaluation over the deadline is
        # lost whole, and the next tick would try the same, larger, batch again).
        report_deadline = time.monotonic() + tick_limits.budget_s + HEADROOM_S / 2
        ledger = resource_of(context, ledger_key, BriaLedgerResource).get_ledger()
        committed, held = _cursor(context.cursor)
        if committed:
            ledger.mark_reported(committed)
        store = resource_of(context, storage_key, BriaStorageResource).get_store()
        client = resource_of(context, bria_key, BriaResource).get_client()

        async def collect() -> TickReport:
            async with client.async_view() as aclient:
                collector = ResultCollector(
                    client=aclient,
                    ledger=ledger,
                    store=store,
                    asset_keys=list(keys),
                    owner=owner,
                    limits=tick_limits,
                    training_keys=list(models),
                )
                return await collector.tick()

        report = run_blocking(collect())
        crash_point("sensor.before_report")
        context.log.info("bria results tick: %s", report.summary())
        events: list[dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation] = []
        runs: list[dg.RunRequest] = []
        kept: list[int] = []
        submit_runs = SubmitRuns(context.instance)
        billed = ledger.billed_per_entry([entry.id for entry, _ in report.reports])
        # One look-up per asset key for the whole tick, not one per entry.
        done = _already_materialized(
            context.instance, [*report.trained, *(entry for entry, _ in report.reports)]
        )
        for entry in report.trained:
            runs.extend(_downstream_runs(entry, downstream_keys, base_tags))
            if entry.id in done:
                kept.append(entry.id)
                continue
            events.append(model_materialization(context.instance, models[entry.asset_key], entry))
        checked: dict[str, list[tuple[ImageRecord, Verified]]] = {}
        reported: list[tuple[LedgerEntry, ImageRecord]] = []
        landed: list[LedgerEntry] = []
        for entry, record in report.reports:
            if len(reported) >= MIN_REPORTS and time.monotonic() > report_deadline:
                break  # stored, not reported: the next tick reports it
            reported.append((entry, record))
            key = dg.AssetKey.from_user_string(entry.asset_key)
            if submit_runs.owns(entry, key):
                # A run waits for this result and materializes it: handed over (flagged
                # reported, so it takes no report slot of later ticks).
                kept.append(entry.id)
                continue
            landed.append(entry)
            if batching is None:
                runs.extend(
                    _downstream_runs(
                        entry, downstream_keys, {**base_tags, **submit_runs.backfill_label(entry)}
                    )
                )
            if entry.id in done:
                # A tick whose events Dagster kept but whose cursor it lost: report nothing again.
                kept.append(entry.id)
                continue
            verified = verify_stored(store, [record], report.inspected)
            usage = deferred_result_usage([(entry, billed.get(entry.id, 0))])
            metadata = materialization_metadata([record], verified.previews, usage)
            metadata["bria/poll_count"] = dg.MetadataValue.int(entry.poll_count)
            events.append(
                dg.AssetMaterialization(
                    asset_key=key, partition=entry.partition_key, metadata=metadata
                )
            )
            checked.setdefault(entry.asset_key, []).append((record, verified))
        for asset_key, items in checked.items():
            events += _check_evaluations(asset_key, items, keys[asset_key].check_names)
        holding: list[tuple[int, float]] = []
        if batching is not None:
            now = time.time()
            since = dict(held)
            # The newest landing of each partition, those held by earlier ticks first.
            latest = {
                entry.partition_key: entry
                for entry in [*ledger.get_many(since), *landed]
                if entry.partition_key is not None
            }
            held_since = {key: since.get(entry.id, now) for key, entry in latest.items()}
            launch, hold = ranges_due(
                contiguous_ranges(latest, batching[0], batching[1], context.instance),
                held_since,
                now=now,
                queued=bool(latest) and range_run_queued(context.instance, name),
                settled=bool(latest) and ledger.backlog(list(keys))[0] == 0,
            )
            launched = [latest[key] for chunk in launch for key in chunk]
            runs += chunk_requests(
                launch,
                {
                    key: f"bria:{entry.id}:{entry.forced_generation}"
                    for key, entry in latest.items()
                },
                downstream_keys,
                {
                    **base_tags,
                    **_common_label([submit_runs.backfill_label(entry) for entry in launched]),
                    "bria/after": ",".join(sorted({entry.asset_key for entry in launched})),
                    RANGE_SENSOR_TAG: name,
                },
            )
            holding = [(latest[key].id, held_since[key]) for chunk in hold for key in chunk]
            if holding:
                context.log.info(
                    "%d partitions held for a longer range run (%d ranges asked for)",
                    len(holding),
                    len(launch),
                )
        for entry in report.failures:
            events.append(_failure_observation(entry))
        for entry in report.resubmit:
            step = keys[entry.asset_key]
            runs.append(
                dg.RunRequest(
                    run_key=f"bria-retry:{entry.id}:{entry.attempts}",
                    asset_selection=[step.submit.key],
                    partition_key=entry.partition_key,
                    tags={
                        **base_tags,
                        **submit_runs.backfill_tags(entry),
                        "bria/retry_of": str(entry.id),
                    },
                )
            )
        if kept:
            ledger.mark_reported(kept)
        _load_partitions_of(context, runs)
        ids = [entry.id for entry in report.trained] + [entry.id for entry, _ in reported]
        cursor = json.dumps({"reporting": [i for i in ids if i not in kept], "held": holding})
        return dg.SensorResult(
            asset_events=events,
            run_requests=runs,
            cursor=cursor,
            skip_reason=None if events or runs else report.summary() or "nothing due",
        )

    return _sensor


def _downstream_runs(
    entry: LedgerEntry, downstream: list[dg.AssetKey], tags: dict[str, str]
) -> list[dg.RunRequest]:
    """The run of the ``downstream`` assets for the entry's partition (its run_key makes a
    repeat a no-op)."""
    if not downstream:
        return []
    return [
        dg.RunRequest(
            run_key=f"bria:{entry.id}:{entry.forced_generation}",
            asset_selection=downstream,
            partition_key=entry.partition_key,
            tags={**tags, "bria/after": entry.asset_key},
        )
    ]


def _downstream_key(item: dg.AssetsDefinition | dg.AssetKey) -> dg.AssetKey:
    if isinstance(item, dg.AssetKey):
        return item
    condition = item.automation_conditions_by_key.get(item.key)
    if condition is not None:
        raise BriaInputError(
            "downstream",
            f"{item.key.to_user_string()} has an automation_condition: the automation daemon "
            "runs it when a result lands, so a sensor run would run it a second time; leave it "
            "out of downstream",
        )
    return item.key


def _common_label(labels: list[dict[str, str]]) -> dict[str, str]:
    """The backfill label that every entry of a range run shares; none when they differ."""
    distinct = {tuple(sorted(label.items())) for label in labels}
    return dict(distinct.pop()) if len(distinct) == 1 else {}


def _check_evaluations(
    asset_key: str, items: list[tuple[ImageRecord, Verified]], names: Sequence[str]
) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per check of ``asset_key`` over the images a tick reports, as an inline
    run over several partitions evaluates them: the checks are the asset's (the UI shows the
    latest evaluation of each), a failure names the object it found wanting, and a tick writes
    one event per check instead of one per check and image."""
    merged = merge_verified([found for _, found in items])
    records = [record for record, _ in items]
    partitions = sorted({r.partition_key for r in records if r.partition_key is not None})
    return [
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey.from_user_string(asset_key),
            check_name=str(check.check_name),  # evaluate() names every result
            passed=check.passed,
            metadata={**check.metadata, "partitions": dg.MetadataValue.int(len(partitions))},
            description=check.description,
            severity=check.severity,
        )
        for check in evaluate(records, merged, names)
    ]


def _cursor(cursor: str | None) -> tuple[list[int], list[tuple[int, float]]]:
    """The cursor's entries reported by the last tick, and those held for a range run (with
    the time each was first held)."""
    if not cursor:
        return [], []
    try:
        value = json.loads(cursor)
        return (
            [int(i) for i in value.get("reporting", [])],
            [(int(i), float(t)) for i, t in value.get("held", [])],
        )
    except (ValueError, TypeError, AttributeError):
        return [], []


GUARD_CHUNK = 500
"""Partitions per query of :func:`_already_materialized` (SQLite limits a query's parameters)."""


def _already_materialized(instance: dg.DagsterInstance, entries: Sequence[LedgerEntry]) -> set[int]:
    """The ids of the ``entries`` whose partition's latest materialization in the instance is
    their request's (an earlier tick's events were kept but its cursor was not).

    Per asset key, one query for the latest materialization id of each of the entries'
    partitions and one for those materializations (only partitions materialized before)."""
    found: set[int] = set()
    partitioned: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.partition_key is None:
            key = dg.AssetKey.from_user_string(entry.asset_key)
            records = instance.fetch_materializations(key, limit=1).records
            if records and _request_id_of(records[0]) == entry.request_id:
                found.add(entry.id)
        else:
            partitioned.setdefault(entry.asset_key, []).append(entry)
    for asset_key, group in partitioned.items():
        key = dg.AssetKey.from_user_string(asset_key)
        for start in range(0, len(group), GUARD_CHUNK):
            chunk = group[start : start + GUARD_CHUNK]
            latest = instance.get_latest_storage_id_by_partition(
                key,
                dg.DagsterEventType.ASSET_MATERIALIZATION,
                {entry.partition_key for entry in chunk if entry.partition_key is not None},
            )
            if not latest:
                continue
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())),
                limit=len(latest),
            ).records
            requests = {record.partition_key: _request_id_of(record) for record in records}
            found.update(
                entry.id
                for entry in chunk
                if entry.partition_key in requests
                and requests[entry.partition_key] == entry.request_id
            )
    return found


def _load_partitions_of(context: dg.SensorEvaluationContext, runs: Sequence[dg.RunRequest]) -> None:
    """Have Dagster's partition cache of this evaluation know the dynamic partitions of ``runs``
    from one query per definition: Dagster checks each run's partition after the sensor returns,
    with a query per run for a key it has not cached."""
    loader = context.caching_dynamic_partitions_loader
    repository = context.repository_def
    if loader is None or repository is None:
        return
    graph = repository.asset_graph
    keys: dict[str, set[str]] = {}
    for run in runs:
        selected = [key for key in run.asset_selection or () if graph.has(key)]
        if run.partition_key is None or not selected:
            continue
        partitions = graph.get(selected[0]).partitions_def
        if isinstance(partitions, dg.DynamicPartitionsDefinition) and partitions.name:
            keys.setdefault(partitions.name, set()).add(run.partition_key)
    for name, partition_keys in keys.items():
        loader.get_existing_dynamic_partitions(name, sorted(partition_keys))


def _request_id_of(record: dg.EventLogRecord) -> str | None:
    """The ``bria/request_id`` of a materialization record; None when it has none."""
    event = record.asset_materialization
    value = event.metadata.get("bria/request_id") if event else None
    return str(value.value) if value is not None else None


def _failure_observation(entry: LedgerEntry) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=dg.AssetKey.from_user_string(entry.asset_key),
        partition=entry.partition_key,
        metadata={
            "bria/failed": dg.MetadataValue.bool(True),
            "bria/request_id": dg.MetadataValue.text(entry.request_id or ""),
            "bria/error_code": dg.MetadataValue.text(entry.error_code or ""),
            "bria/error": dg.MetadataValue.text(entry.error_message or ""),
            "bria/attempts": dg.MetadataValue.int(entry.attempts),
            "bria/will_retry": dg.MetadataValue.bool(entry.retryable),
        },
    )

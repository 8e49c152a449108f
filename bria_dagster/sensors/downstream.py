"""The runs the result sensor asks for downstream: one per partition, or one per range.

Downstream assets without a ``backfill_policy`` get a run per partition that lands (Dagster's
default, and each run is a process of its own). When every downstream asset has one (and they
share one partitions definition), the partitions a tick reports go as few runs as the policy
allows: one per contiguous range of partition keys (``single_run``), cut into chunks of
``max_partitions_per_run`` (``multi_run``), each a run over the range as Dagster's own
backfills launch them (the ``dagster/asset_partition_range_*`` tags).

Range runs are sized by the run queue: while a range run the sensor asked for still waits in
the queue (the queued run coordinator has no free slot), the partitions that land are held in
the sensor's cursor instead of becoming one more short run behind it, and go, with the next
ones, in the run asked for once the queue has moved. Without a queue (runs launched at once)
nothing is held. Measured by ``benchmarks/daemon_backfill.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import dagster as dg

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RANGE_SENSOR_TAG = "bria/range_runs_of"
"""On a range run the result sensor asked for: the sensor's name."""


def shared_policy(
    downstream: Sequence[dg.AssetsDefinition | dg.AssetKey],
) -> tuple[dg.BackfillPolicy, dg.PartitionsDefinition] | None:
    """The backfill policy and partitions the downstream assets all share, else None (a run
    per partition: an asset given by key, unpartitioned or without a policy)."""
    found: list[tuple[dg.BackfillPolicy, dg.PartitionsDefinition]] = []
    for item in downstream:
        if not isinstance(item, dg.AssetsDefinition):
            return None
        policy, partitions = item.backfill_policy, item.partitions_def
        if policy is None or partitions is None:
            return None
        found.append((policy, partitions))
    return found[0] if found and all(pair == found[0] for pair in found) else None


def range_requests(
    partitions: Sequence[str],
    run_keys: Sequence[str],
    policy: dg.BackfillPolicy,
    partitions_def: dg.PartitionsDefinition,
    instance: dg.DagsterInstance,
    asset_selection: Sequence[dg.AssetKey],
    tags: dict[str, str],
) -> list[dg.RunRequest]:
    """Runs over ``partitions`` (the tick's landed partitions, each with its ``run_keys`` item):
    one per contiguous range in the partitions' order, at most ``max_partitions_per_run`` each.
    A run's key is a digest of its items' run keys, so a tick reported again asks again for
    nothing."""
    by_partition = dict(zip(partitions, run_keys, strict=True))
    order = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    index = {key: i for i, key in enumerate(order)}
    known = sorted((key for key in by_partition if key in index), key=index.__getitem__)
    limit = policy.max_partitions_per_run or len(known) or 1
    chunks: list[list[str]] = []
    for key in known:
        last = chunks[-1] if chunks else None
        if last and index[key] == index[last[-1]] + 1 and len(last) < limit:
            last.append(key)
        else:
            chunks.append([key])
    # A partition the definition does not (or no longer) list still gets its own run.
    chunks += [[key] for key in by_partition if key not in index]
    requests = []
    for chunk in chunks:
        digest = hashlib.sha256("\n".join(by_partition[k] for k in chunk).encode()).hexdigest()
        run_key = f"bria-range:{digest[:32]}"
        if len(chunk) == 1:
            request = dg.RunRequest(
                run_key=run_key, asset_selection=asset_selection, partition_key=chunk[0], tags=tags
            )
        else:
            request = dg.RunRequest(
                run_key=run_key,
                asset_selection=asset_selection,
                tags={**tags, RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]},
            )
        requests.append(request)
    return requests


def range_run_queued(instance: dg.DagsterInstance, sensor_name: str) -> bool:
    """Whether a range run that ``sensor_name`` asked for still waits in the run queue."""
    waiting = instance.get_run_ids(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.QUEUED], tags={RANGE_SENSOR_TAG: sensor_name}
        ),
        limit=1,
    )
    return bool(waiting)

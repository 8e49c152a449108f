"""The runs the result sensor asks for downstream: one per partition, or one per range.

Downstream assets without a ``backfill_policy`` get a run per partition that lands (Dagster's
default, and each run is a process of its own). When every downstream asset has one (and they
share one partitions definition), the partitions a tick reports go as few runs as the policy
allows: one per contiguous range of partition keys (``single_run``), cut into chunks of
``max_partitions_per_run`` (``multi_run``), each a run over the range as Dagster's own
backfills launch them (the ``dagster/asset_partition_range_*`` tags).

Partitions land out of order (each job takes its own time), so a tick's partitions are many
short ranges. Range runs are therefore sized by holding partitions back, in the sensor's
cursor (:func:`ranges_due`): a tick asks for the largest range only and holds the others
until the partitions landing next fill their gaps; everything is held while a range run the
sensor asked for still waits in the run queue (no free run slot: a run asked for now would
wait behind it); nothing is held once no upstream request is pending, or after
``MAX_HOLD_S``. Measured by ``benchmarks/daemon_backfill.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RANGE_SENSOR_TAG = "bria/range_runs_of"
"""On a range run the result sensor asked for: the sensor's name."""
MAX_HOLD_S = 60.0
"""The longest a landed partition waits for its range to grow (see :func:`ranges_due`)."""


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


def contiguous_ranges(
    partitions: Iterable[str],
    policy: dg.BackfillPolicy,
    partitions_def: dg.PartitionsDefinition,
    instance: dg.DagsterInstance,
) -> list[list[str]]:
    """``partitions`` cut into contiguous ranges of the definition's order, at most
    ``max_partitions_per_run`` each; a partition the definition does not (or no longer) list
    is a range of its own."""
    wanted = list(dict.fromkeys(partitions))
    order = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    index = {key: i for i, key in enumerate(order)}
    known = sorted((key for key in wanted if key in index), key=index.__getitem__)
    limit = policy.max_partitions_per_run or len(known) or 1
    chunks: list[list[str]] = []
    for key in known:
        last = chunks[-1] if chunks else None
        if last and index[key] == index[last[-1]] + 1 and len(last) < limit:
            last.append(key)
        else:
            chunks.append([key])
    return chunks + [[key] for key in wanted if key not in index]


def chunk_requests(
    chunks: Sequence[Sequence[str]],
    run_keys: Mapping[str, str],
    asset_selection: Sequence[dg.AssetKey],
    tags: dict[str, str],
) -> list[dg.RunRequest]:
    """A run per chunk of partitions (a range run, or a partition's run for one). A run's key
    is a digest of its partitions' ``run_keys`` items, so a tick reported again asks again for
    nothing."""
    requests = []
    for chunk in chunks:
        digest = hashlib.sha256("\n".join(run_keys[k] for k in chunk).encode()).hexdigest()
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


def ranges_due(
    chunks: list[list[str]],
    held_since: Mapping[str, float],
    *,
    now: float,
    queued: bool,
    settled: bool,
) -> tuple[list[list[str]], list[list[str]]]:
    """The ranges to run now, and those to hold for a later tick.

    Nothing runs while a range run is ``queued`` (it would wait behind it). Otherwise the
    largest range runs, with every range ``settled`` (no upstream request still pending: no
    gap left to fill) or holding a partition since ``MAX_HOLD_S``. The others wait: the
    partitions landing next fill the gaps between them, so they run as one range later
    instead of as many short runs now.
    """
    if queued or not chunks:
        return [], chunks
    if settled:
        return chunks, []
    largest = max(range(len(chunks)), key=lambda i: len(chunks[i]))
    due = {
        i
        for i, chunk in enumerate(chunks)
        if i == largest or now - min(held_since[key] for key in chunk) >= MAX_HOLD_S
    }
    return (
        [chunk for i, chunk in enumerate(chunks) if i in due],
        [chunk for i, chunk in enumerate(chunks) if i not in due],
    )


def range_run_queued(instance: dg.DagsterInstance, sensor_name: str) -> bool:
    """Whether a range run that ``sensor_name`` asked for still waits in the run queue."""
    waiting = instance.get_run_ids(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.QUEUED], tags={RANGE_SENSOR_TAG: sensor_name}
        ),
        limit=1,
    )
    return bool(waiting)

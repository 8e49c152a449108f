"""Spend guard for Bria steps: the caps a step sends under, a check before its first POST, and
the dry run that prices a run without sending anything.

The guarantee is the ledger's atomic check at send time (:mod:`bria_dagster.ledger.caps`); the
check here only fails a step early, before any POST, when its new requests obviously exceed
what a cap has left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg

from bria_dagster.assets.plan import PlannedJob
from bria_dagster.ledger import BudgetExceededError, EntryState, Ledger, LedgerEntry, SpendCaps
from bria_dagster.ledger.caps import DEFAULT_SCOPE
from bria_dagster.resources import BriaResource

DRY_RUN_TAG = "bria/dry_run"
"""Run tag (``"true"``) under which Bria steps plan and price their requests and send none."""

SEND = "would_send"
REUSE = "reused"
RESUME = "resumed"
BLOCKED = "blocked"

_LISTED = 200
"""At most this many planned requests are listed in a dry run's metadata."""


@dataclass(frozen=True)
class Estimate:
    """What a step's planned jobs would cost: per job, one of :data:`SEND` (a new billed
    request), :data:`REUSE` (a result already in the ledger), :data:`RESUME` (sent earlier,
    still running: waited for, not paid again), :data:`BLOCKED` (needs an operator first)."""

    kinds: list[str] = field(default_factory=list)
    jobs: Sequence[PlannedJob] = ()

    @property
    def counts(self) -> Counter[str]:
        """Jobs per kind."""
        return Counter(self.kinds)

    @property
    def would_send(self) -> int:
        """New billed requests."""
        return self.counts[SEND]

    def summary(self) -> str:
        """``would send N billed requests (M already stored, reused)``, plus the rest."""
        c = self.counts
        text = f"would send {c[SEND]} billed request(s) ({c[REUSE]} already stored, reused)"
        if c[RESUME]:
            text += f"; {c[RESUME]} already sent and still running (waited for, not paid again)"
        if c[BLOCKED]:
            text += f"; {c[BLOCKED]} need an operator first (see `bria-ledger attention`)"
        return text


def before_sending(
    context: dg.AssetExecutionContext,
    ledger: Ledger,
    bria: BriaResource,
    key: dg.AssetKey,
    jobs: Sequence[PlannedJob],
    forced: bool,
    config_dry_run: bool,
) -> SpendCaps | None:
    """Between planning and sending: in a dry run, log the step's price (an observation) and
    return None (send nothing); else return the step's caps, failing it first when its new
    requests obviously exceed what a cap has left."""
    asset_key, run_id = key.to_user_string(), context.run.run_id
    if is_dry_run(context, config_dry_run):
        planned = estimate(ledger, asset_key, jobs, forced=forced, run_id=run_id)
        context.log_event(dry_run_observation(context, key, planned))
        return None
    caps = step_caps(context, bria)
    if caps.caps_for(asset_key, run_id):
        planned = estimate(ledger, asset_key, jobs, forced=forced, run_id=run_id)
        check_budget(ledger, caps, asset_key, run_id, planned)
    return caps


def is_dry_run(context: dg.AssetExecutionContext, config_dry_run: bool) -> bool:
    """Whether the step only prices its requests (config ``dry_run`` or tag ``bria/dry_run``)."""
    return config_dry_run or context.run.tags.get(DRY_RUN_TAG, "").lower() == "true"


def step_caps(context: dg.AssetExecutionContext, bria: BriaResource) -> SpendCaps:
    """The caps of this step; the scope defaults to the run's code location name."""
    origin = context.run.remote_job_origin
    location = origin.location_name if origin is not None else None
    return bria.spend_caps(location or DEFAULT_SCOPE)


def classify(entry: LedgerEntry | None, *, forced: bool, run_id: str) -> str:
    """What the ledger row found for a job (the latest generation) means for its cost; mirrors
    :meth:`StepRunner._reservation <bria_dagster.assets.execute.StepRunner>` and the ledger's
    ``begin_submit``."""
    if entry is None or (forced and entry.run_id != run_id):
        return SEND
    rearmable = entry.state in (EntryState.FAILED, EntryState.AMBIGUOUS) and entry.retryable
    if entry.reserved or rearmable:
        return SEND
    if entry.state in (EntryState.COMPLETED, EntryState.STORED):
        return REUSE
    if entry.state is EntryState.PENDING:
        return RESUME
    return BLOCKED


def estimate(
    ledger: Ledger, asset_key: str, jobs: Sequence[PlannedJob], *, forced: bool, run_id: str
) -> Estimate:
    """Price ``jobs`` against the ledger (reads only)."""
    kinds = [
        classify(
            ledger.latest(asset_key, job.partition_key, job.payload_hash),
            forced=forced,
            run_id=run_id,
        )
        for job in jobs
    ]
    return Estimate(kinds=kinds, jobs=jobs)


def check_budget(
    ledger: Ledger, caps: SpendCaps, asset_key: str, run_id: str, planned: Estimate
) -> None:
    """Fail the step before any POST, without retry, when its new requests exceed what a cap
    has left (the atomic check at send time still guards races)."""
    wanted = planned.would_send
    if wanted == 0:
        return
    for use in ledger.cap_usage(caps, asset_key, run_id):
        if wanted > use.left:
            raise budget_failure(BudgetExceededError(use.cap, use.used, wanted))


def budget_failure(error: BudgetExceededError) -> dg.Failure:
    """The step's failure for a refused cap: no retry (a retry would be refused too)."""
    return dg.Failure(
        description=str(error),
        metadata={
            "cap": error.cap.label,
            "setting": error.cap.setting,
            "limit": error.cap.limit,
            "used": error.used,
            "wanted": error.wanted,
        },
        allow_retries=False,
    )


def dry_run_observation(
    context: dg.AssetExecutionContext, key: dg.AssetKey, planned: Estimate
) -> dg.AssetObservation:
    """The dry run's report, as an observation of ``key`` in the run's event log."""
    counts = planned.counts
    listed = [
        {
            "partition": job.partition_key,
            "variant": job.variant,
            "endpoint": job.endpoint,
            "payload_hash": job.payload_hash,
            "cost": kind,
        }
        for job, kind in list(zip(planned.jobs, planned.kinds, strict=True))[:_LISTED]
    ]
    partitions = {job.partition_key for job in planned.jobs}
    context.log.info("dry run: %s; nothing sent", planned.summary())
    return dg.AssetObservation(
        asset_key=key,
        partition=next(iter(partitions)) if len(partitions) == 1 else None,
        metadata={
            "bria/dry_run": True,
            "bria/estimate": planned.summary(),
            "bria/would_send": counts[SEND],
            "bria/reused": counts[REUSE],
            "bria/resumed": counts[RESUME],
            "bria/blocked": counts[BLOCKED],
            "bria/planned_requests": dg.MetadataValue.json(listed),
        },
    )

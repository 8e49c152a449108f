"""Which run a deferred request belongs to: the result sensor asks before reporting a result.

A request's ledger row names the run that submitted it. When that run also selected the result
asset, or belongs to an in-progress backfill that targets it, a run of the result asset is
waiting for the result (see :func:`~bria_dagster.assets.deferred.wait_for_stored`): the sensor
stores the result and leaves the materialization to that run, so the asset is materialized once
and the backfill sees it (a runless event belongs to no backfill).
"""

from __future__ import annotations

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG, BACKFILL_TAGS, PRIORITY_TAG

from bria_dagster.ledger import LedgerEntry

BRIA_BACKFILL_TAG = "bria/backfill"
"""On a downstream run the result sensor launched: the backfill its request's submit run
belonged to (filter the Runs page by it)."""

__all__ = ["BRIA_BACKFILL_TAG", "PRIORITY_TAG", "SubmitRuns"]


class SubmitRuns:
    """The submit runs of one tick's requests, each read once."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._runs: dict[str, dg.DagsterRun | None] = {}
        self._backfills: dict[str, tuple[bool, frozenset[dg.AssetKey]]] = {}

    def run_of(self, entry: LedgerEntry) -> dg.DagsterRun | None:
        """The run that submitted ``entry`` (None when unknown or deleted)."""
        if not entry.run_id:
            return None
        if entry.run_id not in self._runs:
            self._runs[entry.run_id] = self._instance.get_run_by_id(entry.run_id)
        return self._runs[entry.run_id]

    def owns(self, entry: LedgerEntry, result_key: dg.AssetKey) -> bool:
        """Whether a run is (or will be) waiting to materialize ``entry``'s result."""
        run = self.run_of(entry)
        if run is None:
            return False
        if not run.is_finished and result_key in self._planned(run):
            return True
        backfill_id = run.tags.get(BACKFILL_ID_TAG)
        if backfill_id is None:
            return False
        in_progress, targets = self._backfill(backfill_id)
        return in_progress and result_key in targets

    def backfill_tags(self, entry: LedgerEntry) -> dict[str, str]:
        """The backfill tags a resubmission of ``entry`` carries: those of its submit run while
        that backfill is in progress (as Dagster's own run retries do), so the backfill waits
        for it; none otherwise."""
        run = self.run_of(entry)
        backfill_id = run.tags.get(BACKFILL_ID_TAG) if run is not None else None
        if run is None or backfill_id is None or not self._backfill(backfill_id)[0]:
            return {}
        return {tag: run.tags[tag] for tag in BACKFILL_TAGS if tag in run.tags}

    def backfill_label(self, entry: LedgerEntry) -> dict[str, str]:
        """``{"bria/backfill": id}`` when ``entry``'s submit run belongs to a backfill."""
        run = self.run_of(entry)
        backfill_id = run.tags.get(BACKFILL_ID_TAG) if run is not None else None
        return {BRIA_BACKFILL_TAG: backfill_id} if backfill_id else {}

    def _planned(self, run: dg.DagsterRun) -> frozenset[dg.AssetKey]:
        # A run of every asset of its job has no asset_selection; its plan names them.
        if run.asset_selection:
            return frozenset(run.asset_selection)
        plan_id = run.execution_plan_snapshot_id
        plan = self._instance.get_execution_plan_snapshot(plan_id) if plan_id else None
        return frozenset(plan.asset_selection) if plan is not None else frozenset()

    def _backfill(self, backfill_id: str) -> tuple[bool, frozenset[dg.AssetKey]]:
        if backfill_id not in self._backfills:
            backfill = self._instance.get_backfill(backfill_id)
            if backfill is None:
                self._backfills[backfill_id] = (False, frozenset())
            else:
                self._backfills[backfill_id] = (
                    backfill.status == BulkActionStatus.REQUESTED,
                    frozenset(backfill.asset_selection or ()),
                )
        return self._backfills[backfill_id]

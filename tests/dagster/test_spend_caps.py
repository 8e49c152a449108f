"""Spend caps in Bria steps: a capped backfill stops at exactly the cap, what was not sent stays
resumable, and raising the cap pays only for the rest. On SQLite and PostgreSQL ledgers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets.execute import StepRunner
from bria_dagster.assets.plan import plan_step
from bria_dagster.assets.step import StepInput
from bria_dagster.client import AsyncBriaClient
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.ledger import Ledger, SpendCaps
from bria_dagster.resources import BriaLedgerResource, BriaResource
from bria_dagster.storage import ObjectStore
from tests.dagster.graph import SKUS, build_graph
from tests.dagster.test_dry_run import RANGE as ALL_SKUS
from tests.e2e.conftest import FAST_CLIENT

GENERATE = "/v2/image/generate"
BACKENDS = pytest.mark.parametrize("ledger_resource", ["sqlite", "postgresql"], indirect=True)
FILE_STORAGE = pytest.mark.parametrize("storage", ["file"], indirect=True)


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    (event,) = result.get_step_failure_events()
    assert event.step_failure_data.error is not None
    return event.step_failure_data.error.message


def _hash_of(ledger: Ledger, sku: str) -> str:
    (entry,) = [e for e in ledger.list() if e.partition_key == sku]
    return entry.payload_hash


def _open(resource: BriaLedgerResource) -> Ledger:
    assert resource.url is not None
    return Ledger.from_url(resource.url, schema=resource.db_schema)


@BACKENDS
@FILE_STORAGE
def test_a_capped_backfill_stops_at_the_cap_and_resumes_after_raising_it(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    emulator: Any,
    ledger_resource: BriaLedgerResource,
) -> None:
    photo, *_ = build_graph(retry_policy=dg.RetryPolicy(max_retries=2))
    capped = {**resources, "bria": BriaResource(**bria_fields, max_requests_per_day=2)}
    # A backfill: one run per partition, as Dagster launches them.
    results = [
        dg.materialize(
            [photo], instance=instance, resources=capped, partition_key=sku, raise_on_error=False
        )
        for sku in SKUS
    ]
    assert [r.success for r in results] == [True, True, False]
    assert emulator.stats().submits == {GENERATE: 2}
    text = _failure_text(results[2])
    assert "BriaResource.max_requests_per_day" in text and "2 already billed" in text
    retried = [e for e in results[2].all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried == [], "a refused cap must not be retried (a retry is refused too)"
    ledger = _open(ledger_resource)
    try:
        assert ledger.find("product_photo", SKUS[2], _hash_of(ledger, SKUS[0])) is None
        assert len(ledger.list()) == 2, "the refused run reserved nothing"
    finally:
        ledger.dispose()

    raised = {**resources, "bria": BriaResource(**bria_fields, max_requests_per_day=10)}
    for sku in SKUS:
        again = dg.materialize([photo], instance=instance, resources=raised, partition_key=sku)
        (m,) = again.asset_materializations_for_node("product_photo")
        assert m.metadata["bria/reused"].value == (1 if sku != SKUS[2] else 0)
    assert emulator.stats().submits == {GENERATE: 3}, "raising the cap paid again for done work"
    ledger = _open(ledger_resource)
    try:
        assert ledger.spend_per("asset", since=0) == [("product_photo", 3)]
    finally:
        ledger.dispose()


@FILE_STORAGE
def test_a_run_cap_fails_the_step_before_any_post_when_it_obviously_exceeds(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    emulator: Any,
    ledger_resource: BriaLedgerResource,
) -> None:
    """One run over all partitions asks for 3 new requests under a per-run cap of 2: the step
    fails at once, nothing is sent, nothing reserved."""
    photo, *_ = build_graph()
    capped = {**resources, "bria": BriaResource(**bria_fields, max_requests_per_run=2)}
    result = dg.materialize(
        [photo],
        instance=instance,
        resources=capped,
        tags=ALL_SKUS,
        raise_on_error=False,
    )
    assert not result.success
    text = _failure_text(result)
    assert "BriaResource.max_requests_per_run" in text and "3 more needed" in text
    assert emulator.stats().requests == {}
    ledger = _open(ledger_resource)
    try:
        assert ledger.list() == []
    finally:
        ledger.dispose()


@BACKENDS
async def test_the_send_time_cap_leaves_refused_rows_pending_and_resumable(
    emulator: Any, api_token: str, tmp_path: Path, ledger_resource: BriaLedgerResource
) -> None:
    """The guarantee itself (no pre-check): three jobs sent together under a cap of two."""
    jobs = [
        job
        for sku in SKUS
        for job in plan_step(
            GenerateImageRequest(prompt=f"a mug {sku}", seed=1), StepInput("photo", sku)
        )
    ]
    ledger = _open(ledger_resource)
    store = ObjectStore.from_uri(str(tmp_path / "images"))

    async def run(limit: int, run_id: str) -> Any:
        async with AsyncBriaClient(
            api_token=api_token, base_url=emulator.base_url, **FAST_CLIENT
        ) as client:
            runner = StepRunner(
                client=client,
                ledger=ledger,
                store=store,
                asset_key="photo",
                run_id=run_id,
                caps=SpendCaps(scope="test", per_day=limit),
            )
            return await runner.run(jobs)

    try:
        first = await run(2, "run-1")
        assert len(first.records) == 2 and len(first.errors) == 1
        (refused,) = first.errors
        assert refused.budget is not None and not refused.retryable
        assert "max_requests_per_day" in refused.message
        assert emulator.stats().submits == {GENERATE: 2}
        (row,) = [e for e in ledger.list() if e.partition_key == refused.job.partition_key]
        assert row.reserved, f"the refused row must stay pending without a request_id: {row}"

        second = await run(3, "run-2")
        assert len(second.records) == 3 and not second.errors
        assert sum(r.reused for r in second.records) == 2
        assert emulator.stats().submits == {GENERATE: 3}
        (use,) = ledger.scope_usage(SpendCaps(scope="test", per_day=3))
        assert (use.used, use.left) == (3, 0)
    finally:
        ledger.dispose()

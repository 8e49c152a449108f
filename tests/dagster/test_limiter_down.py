"""The shared rate-limit store (Redis) going away while a step's jobs wait for their slots: the
jobs are reported as not sent and retryable, their ledger rows stay reserved (never
``submitting``), and nothing reaches Bria."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bria_dagster.assets.execute import JobError, StepRunner
from bria_dagster.assets.plan import plan_step
from bria_dagster.assets.step import StepInput
from bria_dagster.client import AsyncBriaClient, RateLimitStoreError
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.ledger import Ledger
from bria_dagster.storage import ObjectStore
from tests.dagster.test_preflight import closed_port
from tests.e2e.conftest import FAST_CLIENT


async def test_an_unreachable_limiter_leaves_rows_reserved_and_sends_nothing(
    emulator: Any, api_token: str, tmp_path: Path
) -> None:
    settings = {**FAST_CLIENT, "rate_limit_backend": f"redis://127.0.0.1:{closed_port()}/0"}
    ledger = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    jobs = [
        job
        for sku in ("sku-1", "sku-2")
        for job in plan_step(
            GenerateImageRequest(prompt=f"a mug {sku}", seed=1), StepInput("photo", sku)
        )
    ]
    try:
        async with AsyncBriaClient(
            api_token=api_token, base_url=emulator.base_url, **settings
        ) as client:
            runner = StepRunner(
                client=client,
                ledger=ledger,
                store=ObjectStore.from_uri(str(tmp_path / "images")),
                asset_key="photo",
                run_id="run-1",
            )
            outcome = await runner.submit(jobs)
        assert all(isinstance(item, JobError) and item.retryable for item in outcome)
        assert all("rate_limit_backend" in item.message for item in outcome)  # type: ignore[union-attr]
        rows = ledger.list()
        assert len(rows) == 2 and all(row.reserved for row in rows)
        assert ledger.stuck_submitting(0) == []
        assert emulator.stats().requests == {}
    finally:
        ledger.dispose()


async def test_the_client_reports_an_unreachable_limiter_as_not_sent(
    emulator: Any, api_token: str
) -> None:
    backend = f"redis://127.0.0.1:{closed_port()}/0"
    settings = {**FAST_CLIENT, "max_attempts": 2, "rate_limit_backend": backend}
    async with AsyncBriaClient(api_token=api_token, base_url=emulator.base_url, **settings) as c:
        try:
            await c.submit("/v2/image/generate", {"prompt": "a mug"})
        except RateLimitStoreError as exc:
            assert exc.request_sent is False and "rate_limit_backend" in str(exc)
        else:
            raise AssertionError("the submit must fail")
    assert emulator.stats().requests == {}

"""A big step logs its first jobs one line each and sums up the rest."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import bria_asset
from bria_dagster.assets.execute import JOB_LOG_LINES
from bria_dagster.client.types.generation import GenerateImageRequest

pytestmark = pytest.mark.parametrize("storage", ["file"], indirect=True)


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.dagster_event is None]


def test_a_big_step_logs_its_first_jobs_and_a_summary(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> None:
    jobs = JOB_LOG_LINES + 5
    batch = bria_asset(
        "batch",
        lambda _step: [GenerateImageRequest(prompt=f"mug {i}", seed=i) for i in range(jobs)],
    )
    first = dg.materialize([batch], instance=instance, resources=resources)
    assert first.success
    lines = _messages(instance, first.run_id)
    assert sum(": submitted /v2/image/generate as " in m for m in lines) == JOB_LOG_LINES
    assert any(m.startswith("5 more submitted (request_ids in the ledger") for m in lines)

    again = dg.materialize([batch], instance=instance, resources=resources)
    assert again.success
    lines = _messages(instance, again.run_id)
    assert not any(": submitted " in m for m in lines), "a re-run sent a job again"
    assert sum(": resuming " in m for m in lines) == JOB_LOG_LINES
    assert any(m.startswith("5 more resumed") for m in lines)

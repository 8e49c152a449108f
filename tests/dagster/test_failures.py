"""How steps fail: bad input before HTTP, moderation not retried, 5xx and timeouts retried
and resumed without a second submit."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import bria_asset
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.resources import BriaResource

FAST_RETRY = dg.RetryPolicy(max_retries=4, delay=0.1)


def _run(asset: dg.AssetsDefinition, instance: dg.DagsterInstance, resources: dict[str, Any]):
    return dg.materialize([asset], instance=instance, resources=resources, raise_on_error=False)


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_bad_request_fails_before_any_http_call_naming_the_field(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    asset = bria_asset(
        "bad",
        lambda _step: GenerateImageRequest.parse(prompt="x", aspect_ratio="7:5"),
        retry_policy=FAST_RETRY,
    )
    result = _run(asset, instance, resources)
    assert not result.success
    failure = result.failure_data_for_node("bad")
    assert failure is not None and "aspect_ratio" in str(failure.error)
    steps = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert not steps, "an input error must not be retried"
    assert emulator.stats().requests == {}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_moderation_refusal_is_not_retried(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    asset = bria_asset(
        "moderated",
        GenerateImageRequest(prompt="a mug [moderate]", seed=1),
        retry_policy=FAST_RETRY,
    )
    result = _run(asset, instance, resources)
    assert not result.success
    failure = result.failure_data_for_node("moderated")
    assert failure is not None and "422" in str(failure.error)
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert emulator.stats().submits == {"/v2/image/generate": 1}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_server_error_on_submit_is_retried_and_succeeds(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    emulator.state.configure(
        faults=[FaultRule(kind="server_error", on="submits", count=1, status_code=500)]
    )
    asset = bria_asset(
        "flaky", GenerateImageRequest(prompt="a mug", seed=3), retry_policy=FAST_RETRY
    )
    result = _run(asset, instance, resources)
    assert result.success
    assert [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    # The 500 made no job; the retry made exactly one.
    assert emulator.stats().submits == {"/v2/image/generate": 1}


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_retried_step_resumes_its_request_instead_of_submitting_again(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    emulator: Any,
) -> None:
    # Each attempt gives up waiting after 0.4 s; the job takes 1.5 s, so the first attempts
    # time out and later ones must pick the same request_id up from the ledger.
    emulator.state.configure(latency={"*": "fixed:1.5"})
    resources = {**resources, "bria": BriaResource(**{**bria_fields, "wait_timeout_s": 0.4})}
    asset = bria_asset(
        "slow", GenerateImageRequest(prompt="a slow mug", seed=5), retry_policy=FAST_RETRY
    )
    result = _run(asset, instance, resources)
    assert result.success
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert restarts, "the first attempt should have timed out"
    assert emulator.stats().submits == {"/v2/image/generate": 1}

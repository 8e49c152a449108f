"""What the spend caps count: billed POSTs per run, per scope and per asset in a rolling day;
a refunded POST (provably not sent) is not billed; an operator retry is billed again."""

from __future__ import annotations

import hashlib

import pytest

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import BudgetExceededError, EntryState, Ledger, SpendCaps

from .ledger_support import FakeClock

GENERATE = "/v2/image/generate"


def _send(ledger: Ledger, asset: str, n: int, caps: SpendCaps, run_id: str = "run-1") -> int:
    digest = hashlib.sha256(f"{asset}{n}".encode()).hexdigest()
    return ledger.begin_submit(asset, f"p{n}", GENERATE, digest, {}, run_id, caps=caps).id


def test_the_daily_cap_is_a_rolling_window_shared_by_the_scope(
    ledger: Ledger, clock: FakeClock
) -> None:
    caps = SpendCaps(scope="team", per_day=2, setting_prefix="BriaResource.")
    _send(ledger, "photo", 1, caps, "run-1")
    _send(ledger, "cutout", 2, caps, "run-2")  # another asset and run, same scope
    with pytest.raises(BudgetExceededError) as refused:
        _send(ledger, "photo", 3, caps, "run-3")
    assert "BriaResource.max_requests_per_day" in str(refused.value)
    assert (refused.value.used, refused.value.cap.limit) == (2, 2)
    _send(ledger, "photo", 3, SpendCaps(scope="other", per_day=2))  # another scope: its own
    clock.advance(86_400 - 1)
    with pytest.raises(BudgetExceededError):
        _send(ledger, "photo", 4, caps)
    clock.advance(2)  # the first two sends leave the window
    _send(ledger, "photo", 4, caps)


def test_run_and_asset_caps_count_only_their_run_and_asset(ledger: Ledger) -> None:
    per_run = SpendCaps(per_run=1)
    _send(ledger, "photo", 1, per_run, "run-1")
    with pytest.raises(BudgetExceededError, match="max_requests_per_run"):
        _send(ledger, "photo", 2, per_run, "run-1")
    _send(ledger, "photo", 2, per_run, "run-2")

    per_asset = SpendCaps(scope="s", per_asset_per_day=1)
    _send(ledger, "ad", 1, per_asset)
    with pytest.raises(BudgetExceededError, match="max_requests_per_asset_per_day"):
        _send(ledger, "ad", 2, per_asset)
    _send(ledger, "banner", 1, per_asset)


def test_a_refused_request_stays_reserved_and_a_refund_frees_the_slot(ledger: Ledger) -> None:
    caps = SpendCaps(per_day=1)
    digest = hashlib.sha256(b"x").hexdigest()
    reserved = ledger.reserve("photo", "p", GENERATE, digest, {}, "run-1")
    first = _send(ledger, "photo", 1, caps)
    with pytest.raises(BudgetExceededError):
        ledger.begin_submit("photo", "p", GENERATE, digest, {}, "run-1", caps=caps)
    assert ledger.get(reserved.id).reserved
    ledger.release_unsent(first)  # the POST provably did not leave: not billed
    claimed = ledger.begin_submit("photo", "p", GENERATE, digest, {}, "run-1", caps=caps)
    assert claimed.submit_now and claimed.state is EntryState.SUBMITTING
    assert ledger.spend_per("asset", since=0) == [("photo", 1)]


def test_an_operator_retry_is_billed_again(ledger: Ledger) -> None:
    caps = SpendCaps(per_day=10)
    entry_id = _send(ledger, "photo", 1, caps)
    ledger.mark_ambiguous(entry_id, "answer lost")
    ledger.retry(entry_id)
    again = _send(ledger, "photo", 1, caps)
    assert again == entry_id
    (use,) = ledger.scope_usage(caps)
    assert use.used == 2


@pytest.mark.parametrize("field", ["per_run", "per_day", "per_asset_per_day"])
def test_a_bad_cap_is_refused_naming_its_setting(field: str) -> None:
    with pytest.raises(BriaInputError, match=f"max_requests_{field}: must be"):
        SpendCaps(**{field: -1})  # type: ignore[arg-type]

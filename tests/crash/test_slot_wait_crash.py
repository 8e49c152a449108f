"""A step killed while its jobs wait for rate-limit slots (issue 13, item 7).

The jobs not yet sent must not be left in ``submitting`` (which no run resends and only an
operator can settle): they are reserved, and the next run sends them by itself. The one job whose
POST went out stays in ``submitting``, as before: that is the window nobody can close.
"""

from __future__ import annotations

import dataclasses

import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState
from tests.crash.harness import CRASH_EXIT_CODE, CrashSite
from tests.crash.test_submit_crash import GENERATE, _entries, _stuck
from tests.dagster.graph import SKUS

ONE_A_MINUTE = {"requests_per_minute": 1, "rate_limit_fraction": 1.0, "rate_limit_window_s": 60}


def _settings(site: CrashSite, settings: dict[str, object]) -> None:
    """Rewrite the workspace the next child reads with these client settings."""
    site.workspace = dataclasses.replace(site.workspace, client_settings=settings)
    site.workspace.save(site.path)


def test_jobs_waiting_for_a_slot_are_resumed_without_an_operator(
    site: CrashSite, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # One submit a minute: the first job is sent, the others wait for a slot; the process dies
    # right after the first POST.
    fast = dict(site.workspace.client_settings)
    _settings(site, {**fast, **ONE_A_MINUTE})
    crashed = site.run("--submit", *SKUS, "--batch", crash_at="submit.after_post")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.describe()
    assert emulator.stats().submits == {GENERATE: 1}
    entries = _entries(site)
    states = sorted((e.state.value, e.request_id is None) for e in entries.values())
    assert states == [("pending", True), ("pending", True), ("submitting", True)]
    (stuck,) = _stuck(site)
    waiting = [p for p, e in entries.items() if e.reserved]
    assert stuck.partition_key not in waiting and len(waiting) == len(SKUS) - 1

    # The next run sends the waiting ones by itself and refuses only the one that may be billed.
    _settings(site, fast)
    restarted = site.run("--submit", *SKUS, "--batch", "--tick")
    assert restarted.returncode == 0, restarted.describe()
    assert emulator.stats().submits == {GENERATE: len(SKUS)}, "one POST per partition in all"
    after = _entries(site)
    assert sorted(p or "" for p, e in after.items() if e.state is EntryState.STORED) == sorted(
        p or "" for p in waiting
    )
    assert all(after[p].attempts == 1 for p in waiting)
    assert [e.id for e in _stuck(site)] == [stuck.id]

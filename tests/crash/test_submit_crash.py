"""The submitting step killed before and after its POST; then restarted.

Both leave the ledger row in ``submitting``: the one window the ledger cannot close (did Bria
get the POST?). A restarted step must not resend it, must fail saying so, and the operator must
see it in ``bria-ledger attention`` (the command the failure names), then settle it with
``mark-ambiguous`` and ``retry`` or ``abandon``.
"""

from __future__ import annotations

import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState, LedgerEntry
from bria_dagster.ops_cli import main as bria_ledger
from tests.crash.harness import CRASH_EXIT_CODE, CrashSite, stored_files
from tests.dagster.graph import SKUS

GENERATE = "/v2/image/generate"
FIRST = SKUS[0]


def _entries(site: CrashSite) -> dict[str | None, LedgerEntry]:
    ledger = site.workspace.open_ledger()
    try:
        return {e.partition_key: e for e in ledger.list(asset_key="product_photo")}
    finally:
        ledger.dispose()


def _stuck(site: CrashSite) -> list[LedgerEntry]:
    ledger = site.workspace.open_ledger()
    try:
        return ledger.stuck_submitting(0)
    finally:
        ledger.dispose()


def _cli(site: CrashSite, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``bria-ledger --url … [--schema …] args`` → (exit code, stdout)."""
    argv = ["--url", site.workspace.ledger_url]
    if site.workspace.ledger_schema:
        argv += ["--schema", site.workspace.ledger_schema]
    capsys.readouterr()
    code = bria_ledger([*argv, *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _assert_step_refused(child_failed: dict[str, object], entry_id: int) -> None:
    assert child_failed["success"] is False
    (message,) = child_failed["errors"]
    assert isinstance(message, str)
    assert FIRST in message and f"request {entry_id} " in message
    assert "not resending" in message and "bria-ledger attention" in message
    assert f"bria-ledger mark-ambiguous {entry_id}" in message


def _assert_operator_sees_stuck(
    site: CrashSite, capsys: pytest.CaptureFixture[str], entry: LedgerEntry
) -> None:
    (stuck,) = _stuck(site)
    assert stuck.id == entry.id and stuck.partition_key == FIRST and stuck.request_id is None
    code, out = _cli(site, capsys, "stuck", "--older-than", "0")
    assert code == 0
    assert "1 request(s) stuck in submitting" in out
    assert FIRST in out and "Bria may have accepted and billed the job" in out
    row = next(line for line in out.splitlines() if FIRST in line)
    assert row.split()[0] == str(entry.id)
    # The command the step's failure names lists the row, with the command to run next.
    code, out = _cli(site, capsys, "attention", "--older-than", "0")
    assert code == 0 and "stuck in submitting (1)" in out
    assert f"  {entry.id}: bria-ledger mark-ambiguous {entry.id}," in out


def _assert_results(site: CrashSite, partitions: list[str]) -> None:
    """Exactly ``partitions`` were stored and reported, once each."""
    entries = _entries(site)
    done = sorted(p or "" for p, e in entries.items() if e.state is EntryState.STORED)
    assert done == sorted(partitions)
    assert all(entries[p].reported for p in partitions)
    assert site.materializations() == {p: 1 for p in partitions}
    objects, _temps = stored_files(site.workspace)
    assert sorted(objects) == sorted(partitions)
    assert all(len(files) == 1 for files in objects.values())


def test_crash_before_post_is_reported_then_retried_by_the_operator(
    site: CrashSite, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = site.run("--submit", FIRST, crash_at="submit.before_post")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.describe()
    assert emulator.stats().submits == {}, "died before the POST"
    entry = _entries(site)[FIRST]
    assert entry.state is EntryState.SUBMITTING and entry.request_id is None

    # The restarted step does not resend the row: it fails and says why.
    restarted = site.run("--submit", FIRST)
    assert restarted.returncode == 0, restarted.describe()
    _assert_step_refused(restarted.submitted()[FIRST], entry.id)
    assert emulator.stats().submits == {}
    _assert_operator_sees_stuck(site, capsys, entry)

    # The operator finds no job in Bria's usage for it: settle it, then allow a new POST.
    code, out = _cli(site, capsys, "mark-ambiguous", str(entry.id), "--older-than", "0")
    assert code == 0 and f"{entry.id}: ambiguous" in out
    code, out = _cli(site, capsys, "retry", str(entry.id))
    assert code == 0 and f"{entry.id}: ambiguous, now retryable" in out
    assert _stuck(site) == []

    # The next run of the step submits it (once) with the rest of the batch; all land once.
    final = site.run("--submit", *SKUS, "--batch", "--tick")
    assert final.returncode == 0, final.describe()
    assert all(line["success"] for line in final.ops("submit")), final.describe()
    assert emulator.stats().submits == {GENERATE: len(SKUS)}, "one POST per partition in all"
    _assert_results(site, SKUS)
    first = _entries(site)[FIRST]
    assert first.id == entry.id and first.attempts == 2  # the lost attempt is in its history


def test_crash_after_post_is_reported_and_never_resent(
    site: CrashSite, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = site.run("--submit", FIRST, crash_at="submit.after_post")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.describe()
    # Bria accepted (and billed) the job; the ledger never learnt its request_id.
    assert emulator.stats().submits == {GENERATE: 1}
    entry = _entries(site)[FIRST]
    assert entry.state is EntryState.SUBMITTING and entry.request_id is None

    # The restarted batch submits the other partitions and refuses the stuck one.
    restarted = site.run("--submit", *SKUS, "--batch", "--tick")
    assert restarted.returncode == 0, restarted.describe()
    (run,) = restarted.ops("submit")
    _assert_step_refused(run, entry.id)
    assert emulator.stats().submits == {GENERATE: len(SKUS)}, "the stuck row was not resent"
    _assert_results(site, SKUS[1:])

    # The operator sees it; Bria holds one job more than the ledger knows (the billed one).
    _assert_operator_sees_stuck(site, capsys, entry)
    known = [e.request_id for e in _entries(site).values() if e.request_id]
    assert len(known) == len(SKUS) - 1
    assert sum(emulator.stats().jobs.values()) == len(SKUS)

    # Paid once already: the operator gives it up rather than paying again.
    code, out = _cli(site, capsys, "mark-ambiguous", str(entry.id), "--older-than", "0")
    assert code == 0
    code, out = _cli(site, capsys, "abandon", str(entry.id))
    assert code == 0 and "abandoned (was ambiguous)" in out
    assert _entries(site)[FIRST].state is EntryState.ABANDONED
    assert _stuck(site) == []
    assert emulator.stats().submits == {GENERATE: len(SKUS)}

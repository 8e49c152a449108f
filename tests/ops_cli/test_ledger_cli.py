"""``bria-ledger``: listings and operator actions, checked against the ledger's state."""

from __future__ import annotations

import time

from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from tests.ledger.ledger_support import FakeClock, payload_hash, submit

from .conftest import HOUR, Run


def _pending(ledger: Ledger, name: str, **kw: object) -> LedgerEntry:
    entry = submit(ledger, name, **kw)  # type: ignore[arg-type]
    return ledger.mark_submitted(entry.id, f"req-{name}", None, time.time() + 60)


def _populate(ledger: Ledger) -> dict[str, LedgerEntry]:
    pending = _pending(ledger, "pending")
    failed = _pending(ledger, "failed")
    ledger.mark_failed(failed.id, 422, "Content moderation failed", retryable=False)
    stored = _pending(ledger, "stored", asset_key="catalog/cutout", partition_key=None)
    ledger.mark_completed(stored.id, {"image_url": "https://x/y.png"}, "https://x/y.png")
    ledger.mark_stored(stored.id, "file:///out/y.png", payload_hash("y"))
    stuck = submit(ledger, "stuck")
    return {
        "pending": ledger.get(pending.id),
        "failed": ledger.get(failed.id),
        "stored": ledger.get(stored.id),
        "stuck": ledger.get(stuck.id),
    }


def _table_rows(out: str) -> list[list[str]]:
    lines = [line for line in out.splitlines() if line and not line.startswith("(")]
    return [line.split() for line in lines[1:]]


def test_list_shows_a_table_with_filters(ledger: Ledger, run: Run) -> None:
    rows = _populate(ledger)

    code, out, err = run("list")
    assert (code, err) == (0, "")
    header = out.splitlines()[0].split()
    assert header == [
        "id",
        "asset",
        "partition",
        "endpoint",
        "state",
        "request_id",
        "attempts",
        "age",
        "error",
    ]
    table = _table_rows(out)
    assert [int(r[0]) for r in table] == sorted((e.id for e in rows.values()), reverse=True)
    failed_row = next(r for r in table if int(r[0]) == rows["failed"].id)
    assert failed_row[1:8] == [
        "catalog/hero",
        "sku-1",
        "/v2/image/generate",
        "failed",
        "req-failed",
        "1",
        "1h00m",
    ]
    assert " ".join(failed_row[8:]) == "422: Content moderation failed"
    stored_row = next(r for r in table if int(r[0]) == rows["stored"].id)
    assert stored_row[2] == "-" and stored_row[4] == "stored"

    code, out, _ = run("list", "--state", "failed")
    assert [int(r[0]) for r in _table_rows(out)] == [rows["failed"].id]
    code, out, _ = run("list", "--asset", "catalog/cutout")
    assert [int(r[0]) for r in _table_rows(out)] == [rows["stored"].id]
    code, out, _ = run("list", "--limit", "2")
    assert len(_table_rows(out)) == 2
    assert "(first 2 shown; raise --limit for more)" in out
    code, out, _ = run("list", "--state", "abandoned")
    assert (code, out.strip()) == (0, "no entries match")


def test_counts(ledger: Ledger, run: Run) -> None:
    _populate(ledger)
    code, out, _ = run("counts")
    assert code == 0
    counts = dict(line.split() for line in out.splitlines()[1:])
    assert counts == {
        "submitting": "1",
        "pending": "1",
        "completed": "0",
        "stored": "1",
        "failed": "1",
        "ambiguous": "0",
        "abandoned": "0",
        "total": "4",
    }


def test_stuck_lists_the_ambiguous_window_and_explains_it(
    ledger: Ledger, run: Run, clock: FakeClock
) -> None:
    rows = _populate(ledger)
    clock.advance(HOUR - 10)
    fresh = submit(ledger, "fresh")  # entered submitting 10 s ago: maybe still sending

    code, out, _ = run("stuck")
    assert code == 0
    assert "1 request(s) stuck in submitting for more than 5m00s" in out
    table = _table_rows(out.split("\n\n")[0].split("\n", 1)[1])
    assert [int(r[0]) for r in table] == [rows["stuck"].id]
    assert table[0][4] == "submitting" and table[0][5] == "-"
    assert "Bria may have accepted and billed the job" in out
    assert "bria-ledger mark-ambiguous ID" in out
    assert ledger.get(fresh.id).state is EntryState.SUBMITTING

    code, out, _ = run("stuck", "--older-than", "7200")
    assert out.strip() == "no request has been stuck in submitting for more than 2h00m"
    code, out, _ = run("stuck", "--older-than", "0")
    assert "2 request(s) stuck" in out


def test_mark_ambiguous_then_retry_rearms_the_row(ledger: Ledger, run: Run) -> None:
    rows = _populate(ledger)
    stuck = rows["stuck"]

    code, out, err = run("retry", str(stuck.id))
    assert code == 1
    assert f"retry {stuck.id}: ledger entry {stuck.id} is submitting: cannot retry it" in err
    assert "mark it ambiguous first" in err

    code, out, err = run("mark-ambiguous", str(stuck.id))
    assert (code, err) == (0, "")
    assert f"{stuck.id}: ambiguous: catalog/hero partition sku-1" in out
    ambiguous = ledger.get(stuck.id)
    assert ambiguous.state is EntryState.AMBIGUOUS
    assert ambiguous.error_message is not None and "operator" in ambiguous.error_message

    code, out, err = run("retry", str(stuck.id))
    assert code == 0
    assert "now retryable" in out and "(attempt 2)" in out
    assert ledger.get(stuck.id).retryable is True
    again = submit(ledger, "stuck")
    assert again.id == stuck.id and again.submit_now and again.attempts == 2


def test_mark_ambiguous_refuses_a_submit_that_may_be_in_flight(
    ledger: Ledger, run: Run, clock: FakeClock
) -> None:
    clock.now = time.time()
    live = ledger.get(submit(ledger, "live").id)

    code, _, err = run("mark-ambiguous", str(live.id))
    assert code == 1
    assert "its POST may still be in flight" in err
    assert ledger.get(live.id) == live

    code, _, err = run("mark-ambiguous", "--older-than", "0", str(live.id))
    assert code == 0
    assert ledger.get(live.id).state is EntryState.AMBIGUOUS


def test_retry_and_abandon_report_each_id(ledger: Ledger, run: Run) -> None:
    rows = _populate(ledger)
    failed, pending, stored = rows["failed"], rows["pending"], rows["stored"]

    code, out, err = run("retry", str(failed.id), str(pending.id), "999")
    assert code == 1
    assert f"{failed.id}: failed, now retryable" in out
    assert f"retry {pending.id}: ledger entry {pending.id} is pending: cannot retry it" in err
    assert "retry 999: no ledger entry with id 999" in err
    assert ledger.get(failed.id).retryable is True
    assert ledger.get(pending.id) == pending

    code, out, err = run("abandon", str(pending.id), str(pending.id), str(stored.id))
    assert code == 1
    assert out.count(f"{pending.id}: abandoned (was pending)") == 1
    assert f"abandon {stored.id}: ledger entry {stored.id} is stored: cannot abandon it" in err
    assert ledger.get(pending.id).state is EntryState.ABANDONED
    assert ledger.get(stored.id) == stored

    code, out, _ = run("abandon", str(pending.id))
    assert (code, out.strip()) == (0, f"{pending.id}: already abandoned")


def test_bad_arguments_are_named(ledger: Ledger, run: Run) -> None:
    _populate(ledger)
    for args, message in [
        (("retry", "abc"), "argument ID: 'abc' is not an integer"),
        (("retry",), "the following arguments are required: ID"),
        (("abandon", "0"), "argument ID: 0 must be at least 1"),
        (("list", "--limit", "0"), "argument --limit: 0 must be at least 1"),
        (("list", "--state", "done"), "argument --state: invalid choice: 'done'"),
        (("stuck", "--older-than", "-5"), "argument --older-than: -5 must be a finite"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ]:
        code, _, err = run(*args)
        assert code == 2, args
        assert message in err, (args, err)

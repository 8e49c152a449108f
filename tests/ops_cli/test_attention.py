"""``bria-ledger attention`` lists every row an operator must decide on, and the package's
messages only ever send the operator to commands that exist and list the row concerned."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import bria_dagster
from bria_dagster.ledger import EntryState, Ledger, LedgerEntry
from bria_dagster.ops_cli import build_parser
from bria_dagster.ops_cli.commands import attention_guide
from tests.ledger.ledger_support import submit

from .conftest import Run

PACKAGE = Path(bria_dagster.__file__).parent
README = PACKAGE.parent / "README.md"
MENTION = re.compile(r"bria-ledger ([a-z][a-z-]*)")


def _pending(ledger: Ledger, name: str) -> LedgerEntry:
    entry = submit(ledger, name)
    return ledger.mark_submitted(entry.id, f"req-{name}", None, time.time() + 60)


def _rows(ledger: Ledger) -> dict[str, LedgerEntry]:
    ambiguous = submit(ledger, "ambiguous")
    ledger.mark_ambiguous(ambiguous.id, "read timeout after the POST")
    stuck = submit(ledger, "stuck")
    refused = _pending(ledger, "refused")
    ledger.mark_failed(refused.id, 422, "Content moderation failed", retryable=False)
    last_try = _pending(ledger, "last-try")
    for attempt in range(2):  # three tries, each ended in ERROR
        ledger.mark_failed(last_try.id, 500, "GPU fell over", retryable=True)
        again = ledger.begin_submit(
            last_try.asset_key,
            last_try.partition_key,
            last_try.endpoint,
            last_try.payload_hash,
            {},
            "run-x",
        )
        assert again.submit_now
        ledger.mark_submitted(again.id, f"req-last-{attempt}", None, time.time())
    ledger.mark_failed(last_try.id, 500, "GPU fell over", retryable=True)
    will_retry = _pending(ledger, "will-retry")
    ledger.mark_failed(will_retry.id, 500, "once", retryable=True)
    return {
        "ambiguous": ledger.get(ambiguous.id),
        "stuck": ledger.get(stuck.id),
        "refused": ledger.get(refused.id),
        "last_try": ledger.get(last_try.id),
        "will_retry": ledger.get(will_retry.id),
        "pending": _pending(ledger, "pending"),
    }


def test_attention_lists_each_decision_with_its_command(ledger: Ledger, run: Run) -> None:
    rows = _rows(ledger)
    assert rows["last_try"].attempts == 3

    code, out, err = run("attention")
    assert (code, err) == (0, "")
    assert "4 request(s) need a decision" in out
    assert f"  {rows['ambiguous'].id}: bria-ledger retry {rows['ambiguous'].id} " in out
    assert f"  {rows['stuck'].id}: bria-ledger mark-ambiguous {rows['stuck'].id}," in out
    assert f"  {rows['refused'].id}: bria-ledger retry {rows['refused'].id} " in out
    assert f"  {rows['last_try'].id}: materialize catalog/hero partition" in out
    listed = {int(line.split(":")[0]) for line in out.splitlines() if line.startswith("  ")}
    expected = {rows[k].id for k in ("ambiguous", "stuck", "refused", "last_try")}
    assert listed == expected  # not the retry in progress, not the pending row

    # Each named command works on its row: the stuck one is settled, then given up.
    stuck = rows["stuck"].id
    assert run("mark-ambiguous", str(stuck))[0] == 0
    assert run("abandon", str(stuck))[0] == 0
    assert ledger.get(stuck).state is EntryState.ABANDONED
    assert f"  {stuck}:" not in run("attention")[1]

    # A row is "stuck" only after --older-than (its POST may still be in flight).
    fresh = submit(ledger, "fresh")
    assert f"  {fresh.id}:" not in run("attention", "--older-than", "7200")[1]


def test_attention_with_nothing_to_decide(ledger: Ledger, run: Run) -> None:
    _pending(ledger, "fine")
    code, out, _ = run("attention")
    assert code == 0 and out.startswith("nothing needs an operator")


def _string_constants() -> list[tuple[Path, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path, node.value))
    return found


def test_every_command_a_message_names_exists() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    mentioned: dict[str, set[str]] = {}
    for path, text in _string_constants():
        for name in MENTION.findall(text):
            mentioned.setdefault(name, set()).add(path.relative_to(PACKAGE).as_posix())
    assert "attention" in mentioned  # the messages send operators to it
    assert set(mentioned) <= commands, {k: v for k, v in mentioned.items() if k not in commands}
    # "see `bria-ledger stuck`" no longer appears for rows that command does not list
    assert "stuck" not in mentioned, mentioned.get("stuck")


def test_readme_section_is_the_clis_guide() -> None:
    readme = README.read_text()
    section = readme.split("## What can go wrong and what you do", 1)[1].split("\n## ", 1)[0]
    assert attention_guide() in section
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name in MENTION.findall(section):
        assert name in commands, name

"""The operator's commands on a ledger: each takes the parsed arguments, prints, returns a code."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable

from bria_dagster.ledger import (
    EntryNotFoundError,
    EntryState,
    Ledger,
    LedgerEntry,
    LedgerStateError,
)
from bria_dagster.ops_cli.table import ENTRY_HEADERS, entry_row, format_age, format_table

STUCK_EXPLANATION = """\
These rows were written before their POST was sent, and no request_id was recorded after it:
the process sending them stopped (crash, kill, lost database connection) inside the one window
the ledger cannot close. Bria may have accepted and billed the job, or never received it; the
ledger cannot tell which, so nothing resubmits these rows by itself.
What to do: compare with the usage in Bria's console around the times shown, then
  bria-ledger mark-ambiguous ID...   (takes the row out of "submitting"), and either
  bria-ledger retry ID...            (the next run of the asset submits again: if the first
                                      POST did arrive, that job is paid twice), or
  bria-ledger abandon ID...          (give up; a new request needs a new forced_generation)."""

ATTENTION_GUIDE = (
    (
        "ambiguous",
        "the POST went out and its answer was lost: Bria may have accepted and billed the job",
        "bria-ledger retry ID (send again: paid twice if the first POST arrived) "
        "or bria-ledger abandon ID",
    ),
    (
        "stuck in submitting",
        "the process sending it stopped between the ledger write and the POST's answer",
        "bria-ledger mark-ambiguous ID, then retry or abandon it as above",
    ),
    (
        "failed, not retryable",
        "Bria refused it or ended it for good (moderation, bad input, no result)",
        "bria-ledger retry ID (a new paid attempt, after fixing the request) "
        "or bria-ledger abandon ID",
    ),
    (
        "failed after the last try",
        "it failed on each of its tries; the result sensor resubmits no more",
        "materialize its asset partition again (a new paid attempt) or bria-ledger abandon ID",
    ),
)
"""(case, what happened, what to do) for each kind of row ``bria-ledger attention`` lists; the
README's "What can go wrong and what you do" section shows :func:`attention_guide`."""

DEFAULT_AMBIGUOUS_REASON = (
    "marked ambiguous by an operator: left in submitting, the POST's fate is unknown"
)


_COMMAND = re.compile(r"bria-ledger [a-z-]+ ID")
"""A command line in the guide (``ID`` stands for the row's id)."""


def _err(message: str) -> None:
    print(f"bria-ledger: {message}", file=sys.stderr)


def list_entries(ledger: Ledger, args: argparse.Namespace) -> int:
    """``list``: entries newest first, filtered by state and asset."""
    entries = ledger.list(state=args.state, asset_key=args.asset, limit=args.limit)
    if not entries:
        print("no entries match")
        return 0
    now = time.time()
    print(format_table(ENTRY_HEADERS, [entry_row(e, now) for e in entries]))
    if len(entries) == args.limit:
        print(f"(first {args.limit} shown; raise --limit for more)")
    return 0


def counts(ledger: Ledger, _args: argparse.Namespace) -> int:
    """``counts``: entries per state and the total."""
    found = ledger.counts()
    rows = [[state.value, str(n)] for state, n in found.items()]
    rows.append(["total", str(sum(found.values()))])
    print(format_table(["state", "entries"], rows))
    return 0


def stuck(ledger: Ledger, args: argparse.Namespace) -> int:
    """``stuck``: rows left in ``submitting`` longer than ``--older-than``, with what to do."""
    entries = ledger.stuck_submitting(args.older_than)
    limit = format_age(args.older_than)
    if not entries:
        print(f"no request has been stuck in submitting for more than {limit}")
        return 0
    now = time.time()
    print(f"{len(entries)} request(s) stuck in submitting for more than {limit}:")
    headers = [*ENTRY_HEADERS[:7], "in state", "error"]
    print(format_table(headers, [entry_row(e, now, since_update=True) for e in entries]))
    print()
    print(STUCK_EXPLANATION)
    return 0


def attention_guide() -> str:
    """The operator's guide to ``bria-ledger attention``, as Markdown bullets."""
    lines = []
    for case, what, todo in ATTENTION_GUIDE:
        quoted = _COMMAND.sub(lambda found: f"`{found.group(0)}`", todo)
        lines.append(f"- **{case}**: {what}. Next: {quoted}.")
    return "\n".join(lines)


def _case(entry: LedgerEntry) -> int:
    if entry.state is EntryState.AMBIGUOUS:
        return 0
    if entry.state is EntryState.SUBMITTING:
        return 1
    return 2 if not entry.retryable else 3


def _next_command(entry: LedgerEntry, case: int) -> str:
    todo = ATTENTION_GUIDE[case][2].replace("ID", str(entry.id))
    return todo.replace("its asset partition", _where(entry))


def attention(ledger: Ledger, args: argparse.Namespace) -> int:
    """``attention``: every row waiting for an operator's decision, with the command to run."""
    entries = ledger.needing_attention(args.older_than, args.max_attempts)
    if not entries:
        print("nothing needs an operator: no ambiguous, stuck or finally failed request")
        return 0
    now = time.time()
    print(f"{len(entries)} request(s) need a decision:")
    for number, (case, what, _todo) in enumerate(ATTENTION_GUIDE):
        found = [e for e in entries if _case(e) == number]
        if not found:
            continue
        print(f"\n{case} ({len(found)}): {what}")
        headers = [*ENTRY_HEADERS[:7], "in state", "error"]
        print(format_table(headers, [entry_row(e, now, since_update=True) for e in found]))
        for entry in found:
            print(f"  {entry.id}: {_next_command(entry, number)}")
    return 0


def _each(ids: list[int], action: str, apply: Callable[[int], str]) -> int:
    failures = 0
    for entry_id in dict.fromkeys(ids):
        try:
            print(f"{entry_id}: {apply(entry_id)}")
        except (EntryNotFoundError, LedgerStateError) as exc:
            failures += 1
            _err(f"{action} {entry_id}: {exc}{_hint(exc)}")
    return 1 if failures else 0


def _hint(exc: Exception) -> str:
    if (
        isinstance(exc, LedgerStateError)
        and exc.action == "retry it"
        and exc.state == EntryState.SUBMITTING
    ):
        return (
            " (see `bria-ledger attention`; mark it ambiguous first: "
            f"`bria-ledger mark-ambiguous {exc.entry_id}`)"
        )
    return ""


def _where(entry: LedgerEntry) -> str:
    part = f" partition {entry.partition_key}" if entry.partition_key else ""
    return f"{entry.asset_key}{part}"


def retry(ledger: Ledger, args: argparse.Namespace) -> int:
    """``retry``: let failed/ambiguous entries be submitted anew by their asset's next run."""

    def apply(entry_id: int) -> str:
        entry = ledger.retry(entry_id)
        return (
            f"{entry.state.value}, now retryable: the next run of {_where(entry)} "
            f"submits it again (attempt {entry.attempts + 1})"
        )

    return _each(args.ids, "retry", apply)


def abandon(ledger: Ledger, args: argparse.Namespace) -> int:
    """``abandon``: give up on entries (never polled, stored or resubmitted again)."""

    def apply(entry_id: int) -> str:
        before = ledger.get(entry_id).state
        entry = ledger.abandon(entry_id)
        if before is EntryState.ABANDONED:
            return "already abandoned"
        return f"abandoned (was {before.value}): {_where(entry)}"

    return _each(args.ids, "abandon", apply)


def mark_ambiguous(ledger: Ledger, args: argparse.Namespace) -> int:
    """``mark-ambiguous``: take rows stuck in ``submitting`` out of it, for retry or abandon."""

    def apply(entry_id: int) -> str:
        entry = ledger.get(entry_id)
        if entry.state is EntryState.SUBMITTING:
            waited = time.time() - entry.updated_at
            if waited < args.older_than:
                raise LedgerStateError(
                    entry_id,
                    entry.state,
                    "mark it ambiguous yet",
                    f"it entered submitting {format_age(waited)} ago and its POST may still be "
                    f"in flight; wait, or pass --older-than {int(waited)}",
                )
        entry = ledger.mark_ambiguous(entry_id, args.reason)
        return f"ambiguous: {_where(entry)}; now `retry` or `abandon` it"

    return _each(args.ids, "mark-ambiguous", apply)

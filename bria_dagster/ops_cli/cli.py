"""``bria-ledger``: look at the request ledger and act on stuck or failed requests.

``bria-ledger [--ledger-url URL] [--schema S] COMMAND``: ``list``, ``counts``, ``attention``,
``stuck``, ``retry``, ``abandon``, ``mark-ambiguous``, ``spend``, ``estimate`` (see
:mod:`~bria_dagster.ops_cli.spend`). ``attention`` lists every request an operator must decide
on, with the command to run. The URL defaults to the one the Dagster layer uses
(:func:`~bria_dagster.ledger.location.default_ledger_url`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

from bria_dagster.client.errors import BriaInputError
from bria_dagster.ledger import EntryState, Ledger
from bria_dagster.ledger.engine import check_schema, create_ledger_engine, parse_url
from bria_dagster.ledger.location import LEDGER_URL_ENV, default_ledger_url
from bria_dagster.ledger.schema import TABLE_NAME
from bria_dagster.ops_cli import commands, spend

Command = Callable[[Ledger, argparse.Namespace], int]


class LedgerOpenError(Exception):
    """The ledger cannot be opened; the message names the argument at fault."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of seconds >= 0")
    return value


URL_FLAG = "--ledger-url"
"""The ledger URL option (as ``bria-webhooks`` names it; ``--url`` is a hidden alias)."""


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="bria-ledger",
        description="Inspect the Bria request ledger; retry, abandon or settle requests.",
    )
    p.add_argument(
        "--ledger-url",
        dest="url",
        default=None,
        help=f"ledger URL (default: ${LEDGER_URL_ENV}, else $DAGSTER_HOME/bria_ledger.db, "
        "else $BRIA_DAGSTER_HOME or ~/.cache/bria_dagster/ledger.db)",
    )
    # The former name, kept for existing scripts (bria-webhooks says --ledger-url too).
    p.add_argument("--url", dest="url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--schema", default=None, help="PostgreSQL schema holding the ledger table")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="entries, newest first")
    listing.add_argument("--state", choices=[s.value for s in EntryState], help="only this state")
    listing.add_argument("--asset", help="only this asset key")
    listing.add_argument("--limit", type=_positive_int, default=50, help="at most N (default 50)")
    listing.set_defaults(run=commands.list_entries)

    sub.add_parser("counts", help="entries per state").set_defaults(run=commands.counts)

    stuck = sub.add_parser(
        "stuck", help="requests left in submitting (crashed between POST and ledger write)"
    )
    stuck.add_argument(
        "--older-than",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="in submitting for longer than this (default 300)",
    )
    stuck.set_defaults(run=commands.stuck)

    attention = sub.add_parser(
        "attention",
        help="every request waiting for an operator: ambiguous, stuck in submitting, failed for "
        "good; with the command to run for each",
    )
    attention.add_argument(
        "--older-than",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="count a row in submitting as stuck after this long (default 300)",
    )
    attention.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=3,
        metavar="N",
        help="a retryable failure tried N times is not resubmitted any more (the result "
        "sensor's TickLimits.max_job_attempts; default 3)",
    )
    attention.set_defaults(run=commands.attention)

    retry = sub.add_parser("retry", help="let failed/ambiguous requests be submitted again")
    retry.add_argument("ids", nargs="+", type=_positive_int, metavar="ID")
    retry.set_defaults(run=commands.retry)

    abandon = sub.add_parser("abandon", help="give up on requests")
    abandon.add_argument("ids", nargs="+", type=_positive_int, metavar="ID")
    abandon.set_defaults(run=commands.abandon)

    ambiguous = sub.add_parser(
        "mark-ambiguous", help="settle requests stuck in submitting as ambiguous"
    )
    ambiguous.add_argument("ids", nargs="+", type=_positive_int, metavar="ID")
    ambiguous.add_argument(
        "--older-than",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="refuse rows that entered submitting less than this ago (default 60): "
        "their POST may still be in flight",
    )
    ambiguous.add_argument(
        "--reason", default=commands.DEFAULT_AMBIGUOUS_REASON, help="recorded as the error"
    )
    ambiguous.set_defaults(run=commands.mark_ambiguous)

    usage = sub.add_parser(
        "spend", help="billed requests per day, asset and run; the caps and their use"
    )
    usage.add_argument("--days", type=_positive_int, default=7, help="look back N days (7)")
    usage.add_argument("--scope", help="only this spend scope (BriaResource.spend_scope)")
    spend.add_location_args(usage, required=False)
    usage.set_defaults(run=spend.spend)

    price = sub.add_parser(
        "estimate",
        help="price a backfill before launching it: a dry run of the selection, sending nothing",
    )
    spend.add_location_args(price, required=True)
    price.add_argument("--select", nargs="+", metavar="ASSET", help="asset keys (a/b); all")
    price.add_argument(
        "--partition", action="append", metavar="KEY", help="a partition key (repeatable)"
    )
    price.add_argument("--range", nargs=2, metavar=("START", "END"), help="a partition range")
    price.set_defaults(estimate=spend.estimate)
    return p


def open_ledger(url: str, schema: str | None) -> Ledger:
    """Open an existing ledger (never creates one: a mistyped URL must not look empty)."""
    try:
        parsed = parse_url(url)
        schema = check_schema(schema, parsed)
    except BriaInputError as exc:
        flag = "--schema" if exc.field == "schema" else URL_FLAG
        raise LedgerOpenError(f"{flag}: {str(exc).removeprefix(f'{exc.field}: ')}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        if not Path(parsed.database).expanduser().is_file():
            raise LedgerOpenError(f"{URL_FLAG}: no ledger file at {parsed.database}")
    engine = create_ledger_engine(parsed, schema=schema)
    try:
        with engine.connect() as conn:
            found = sa.inspect(conn).has_table(TABLE_NAME, schema=schema)
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        raise LedgerOpenError(f"{URL_FLAG}: cannot connect to {shown}: {reason}") from None
    if not found:
        engine.dispose()
        where = f"schema {schema!r} of " if schema else ""
        raise LedgerOpenError(f"{URL_FLAG}/--schema: no {TABLE_NAME} table in {where}{shown}")
    return Ledger(engine, create=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 some action failed, 2 bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "estimate", None) is not None:
        return int(args.estimate(args))  # uses the code location's own ledger resource
    try:
        ledger = open_ledger(args.url or default_ledger_url(), args.schema)
    except LedgerOpenError as exc:
        parser.error(str(exc))
    run: Command = args.run
    try:
        return run(ledger, args)
    except BriaInputError as exc:
        parser.error(str(exc))
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        print(f"bria-ledger: ledger error: {reason}", file=sys.stderr)
        return 1
    finally:
        ledger.dispose()


if __name__ == "__main__":
    sys.exit(main())

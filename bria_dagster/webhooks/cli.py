"""``bria-webhooks``: run the webhook receiver on a port, recording deliveries in a ledger.

The API token (it derives the signing key) is read from ``BRIA_API_TOKEN`` only: a command-line
argument would show in ``ps`` and shell history.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import sqlalchemy as sa

from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.webhooks import DEFAULT_TOLERANCE_SECONDS
from bria_dagster.ledger import Ledger
from bria_dagster.ledger.location import default_ledger_url
from bria_dagster.serving import bind, url_of
from bria_dagster.webhooks.app import (
    DEFAULT_UNKNOWN_GRACE_SECONDS,
    WEBHOOK_PATH,
    create_webhook_app,
)
from bria_dagster.webhooks.deadline import DEFAULT_BODY_TIMEOUT_S, DEFAULT_MAX_ARRIVING_BODIES
from bria_dagster.webhooks.server import receiver_server

TOKEN_ENV = "BRIA_API_TOKEN"
_TOKEN_FLAGS = ("--api-token", "--api_token", "--token")
_FLAGS = {
    "url": "--ledger-url",
    "schema": "--schema",
    "path": "--path",
    "tolerance_seconds": "--tolerance",
    "unknown_grace_seconds": "--unknown-grace",
    "ledger_concurrency": "--ledger-concurrency",
    "body_timeout_s": "--body-timeout",
    "max_arriving_bodies": "--max-arriving-bodies",
}


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value


def _flag_error(exc: BriaInputError) -> str:
    flag = _FLAGS.get(exc.field, f"--{exc.field}")
    return f"{flag}: {str(exc).removeprefix(f'{exc.field}: ')}"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="bria-webhooks",
        description=(
            "Receive Bria's webhook deliveries and mark the requests complete in the ledger. "
            f"The API token comes from ${TOKEN_ENV} (never from the command line)."
        ),
    )
    p.add_argument(
        "--ledger-url",
        default=None,
        help="sqlite:///path or postgresql://... (default: $BRIA_LEDGER_URL, else the ledger "
        "beside $DAGSTER_HOME, else ~/.cache/bria_dagster/ledger.db)",
    )
    p.add_argument("--schema", default=None, help="PostgreSQL schema holding the ledger table")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks one)")
    p.add_argument("--path", default=WEBHOOK_PATH, help=f"delivery path (default {WEBHOOK_PATH})")
    p.add_argument(
        "--tolerance",
        type=_seconds,
        default=float(DEFAULT_TOLERANCE_SECONDS),
        help="refuse deliveries whose timestamp is further than this from now (seconds)",
    )
    p.add_argument(
        "--unknown-grace",
        type=float,
        default=DEFAULT_UNKNOWN_GRACE_SECONDS,
        help="seconds to wait for an unknown request_id to be recorded (0-8)",
    )
    p.add_argument(
        "--ledger-concurrency",
        type=int,
        default=1,
        help="ledger calls in flight (default 1; raise it for PostgreSQL across a network)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT_S,
        help=f"seconds a request body may take to arrive, else 408 (default "
        f"{DEFAULT_BODY_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--max-arriving-bodies",
        type=int,
        default=DEFAULT_MAX_ARRIVING_BODIES,
        help="request bodies arriving at once; beyond, 503 at once (default "
        f"{DEFAULT_MAX_ARRIVING_BODIES})",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the receiver until interrupted; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Checked before argparse, whose "unrecognized arguments" error would echo the token.
    if any(arg.split("=", 1)[0] in _TOKEN_FLAGS for arg in args_list):
        parser.error(f"the API token is read from ${TOKEN_ENV} only; do not pass it as an argument")
    args = parser.parse_args(args_list)
    token = os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        parser.error(
            f"${TOKEN_ENV} is not set: the receiver needs the API token that submitted the jobs "
            "to verify their signatures"
        )
    url = args.ledger_url or default_ledger_url()
    try:
        ledger = Ledger.from_url(url, schema=args.schema)
    except BriaInputError as exc:
        parser.error(_flag_error(exc))
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        parser.exit(1, f"bria-webhooks: cannot open the ledger (--ledger-url): {reason}\n")
    try:
        app = create_webhook_app(
            ledger,
            token,
            tolerance_seconds=args.tolerance,
            path=args.path,
            unknown_grace_seconds=args.unknown_grace,
            ledger_concurrency=args.ledger_concurrency,
            body_timeout_s=args.body_timeout,
            max_arriving_bodies=args.max_arriving_bodies,
        )
    except BriaInputError as exc:
        ledger.dispose()
        parser.error(_flag_error(exc))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        ledger.dispose()
        parser.error(f"--host/--port: cannot bind {args.host}:{args.port}: {exc.strerror}")
    print(f"bria-webhooks: receiving at {url_of(sock)}{args.path}, {ledger!r}", flush=True)
    try:
        receiver_server(app, log_level=args.log_level).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown: a normal stop
    finally:
        ledger.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures: every ``bria-ledger`` test runs on SQLite and on PostgreSQL (see tests/ledger)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from bria_dagster.ledger import Ledger
from bria_dagster.ops_cli import main
from tests.ledger.conftest import pg_schema, target  # noqa: F401  (SQLite + PostgreSQL)
from tests.ledger.ledger_support import FakeClock, Target

HOUR = 3600.0

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def clock() -> FakeClock:
    """Rows are written an hour in the past (the CLI reads them on the wall clock)."""
    return FakeClock(time.time() - HOUR)


@pytest.fixture
def ledger(target: Target, clock: FakeClock) -> Iterator[Ledger]:  # noqa: F811
    opened = target.open(clock)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def run(target: Target, ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> Run:  # noqa: F811
    """``run("list", "--state", "failed")`` → (exit code, stdout, stderr) of ``bria-ledger``."""

    def invoke(*args: str) -> tuple[int, str, str]:
        argv = ["--ledger-url", target.url]
        if target.schema:
            argv += ["--schema", target.schema]
        capsys.readouterr()
        try:
            code = main([*argv, *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke

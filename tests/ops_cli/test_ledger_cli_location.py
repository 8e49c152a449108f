"""Where ``bria-ledger`` looks by default, and how it refuses a ledger it cannot open."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bria_dagster.ledger import Ledger
from bria_dagster.ledger.location import default_ledger_url
from bria_dagster.ops_cli import main
from tests.ledger.ledger_support import PG_URL, Target, submit


def test_default_url_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    dagster_home = tmp_path / "dagster"
    pg = "postgresql+psycopg://u@db/ledger"
    assert default_ledger_url({"BRIA_LEDGER_URL": pg, "DAGSTER_HOME": "/x"}) == pg
    assert (
        default_ledger_url({"DAGSTER_HOME": str(dagster_home), "BRIA_DAGSTER_HOME": "/y"})
        == f"sqlite:///{dagster_home}/bria_ledger.db"
    )
    assert (
        default_ledger_url({"BRIA_DAGSTER_HOME": str(tmp_path / "bria")})
        == f"sqlite:///{tmp_path}/bria/ledger.db"
    )
    assert default_ledger_url({}) == f"sqlite:///{tmp_path}/home/.cache/bria_dagster/ledger.db"
    # Relative folders are made absolute; blank values count as unset.
    monkeypatch.chdir(tmp_path)
    assert default_ledger_url({"BRIA_LEDGER_URL": " ", "DAGSTER_HOME": "rel"}) == (
        f"sqlite:///{tmp_path}/rel/bria_ledger.db"
    )
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.delenv("BRIA_LEDGER_URL", raising=False)
    assert default_ledger_url() == f"sqlite:///{dagster_home}/bria_ledger.db"


def test_cli_uses_the_default_url(
    target: Target,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    if target.schema:
        # The default URL carries no schema: put the table in the search path's schema.
        monkeypatch.setenv("BRIA_LEDGER_URL", PG_URL)
        ledger = Ledger.from_url(PG_URL, schema=target.schema)
        argv = ["--schema", target.schema, "counts"]
    else:
        monkeypatch.delenv("BRIA_LEDGER_URL", raising=False)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
        ledger = Ledger.from_url(default_ledger_url())
        assert (tmp_path / "dh" / "bria_ledger.db").is_file()
        argv = ["counts"]
    try:
        submit(ledger, "one")
    finally:
        ledger.dispose()
    assert main(argv) == 0
    counts = dict(line.split() for line in capsys.readouterr().out.splitlines()[1:])
    assert (counts["submitting"], counts["total"]) == ("1", "1")


def test_unopenable_ledgers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_schema: str
) -> None:
    missing = tmp_path / "nope.db"
    empty_schema = f"{pg_schema}_empty"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(empty_schema, if_not_exists=True))
    try:
        flag = "--ledger-url"
        cases = [
            ([flag, f"sqlite:///{missing}", "list"], f"{flag}: no ledger file at {missing}"),
            ([flag, "mysql://h/db", "list"], f"{flag}: backend 'mysql' is not supported"),
            ([flag, f"sqlite:///{missing}", "--schema", "s", "list"], "--schema: only"),
            (
                [flag, PG_URL, "--schema", empty_schema, "counts"],
                f"{flag}/--schema: no bria_requests table in schema '{empty_schema}'",
            ),
            (
                [flag, "postgresql://u:hunter2@127.0.0.1:9/x", "list"],
                f"{flag}: cannot connect to postgresql+psycopg://u:***@127.0.0.1:9/x",
            ),
            # The former flag still works (hidden from --help).
            (["--url", "mysql://h/db", "list"], f"{flag}: backend 'mysql' is not supported"),
        ]
        for argv, message in cases:
            with pytest.raises(SystemExit) as exited:
                main(argv)
            assert exited.value.code == 2
            err = capsys.readouterr().err
            assert message in err, err
            assert "hunter2" not in err
        assert not missing.exists()  # the CLI never creates a ledger
    finally:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(empty_schema, cascade=True))
        engine.dispose()


def test_both_clis_name_the_ledger_url_flag_alike(capsys: pytest.CaptureFixture[str]) -> None:
    from bria_dagster.webhooks.cli import build_parser as webhooks_parser

    with pytest.raises(SystemExit):
        main(["--help"])
    ledger_help = capsys.readouterr().out
    assert "--ledger-url" in ledger_help and "--url" not in ledger_help.replace("-ledger-url", "")
    assert "--ledger-url" in webhooks_parser().format_help()

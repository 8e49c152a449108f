"""``bria-webhooks``: the console script serves the receiver; the token comes from the env only."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bria_dagster.client import BriaClient
from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState, Ledger
from bria_dagster.webhooks.cli import main
from tests.ledger.ledger_support import Target

from .support import emulator_stats_after_deliveries, submit, wait_for_states

SCRIPT = Path(sys.executable).with_name("bria-webhooks")


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"bria-webhooks printed nothing in {timeout} s")
    return proc.stdout.readline()


def test_console_script_records_deliveries(
    target: Target,
    ledger: Ledger,
    bria: BriaClient,
    emulator: EmulatorServer,
    token: str,
) -> None:
    command = [str(SCRIPT), "--ledger-url", target.url, "--port", "0"]
    if target.schema:
        command += ["--schema", target.schema]
    env = {k: v for k, v in os.environ.items() if k != "BRIA_API_TOKEN"}
    env["BRIA_API_TOKEN"] = token
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        banner = _read_line(proc, 30)
        found = re.search(r"receiving at (http://127\.0\.0\.1:\d+/bria/webhook)", banner)
        assert found, banner
        entries = [
            submit(ledger, bria, f"cli {i}", found.group(1), partition_key=f"p{i}")
            for i in range(3)
        ]
        wait_for_states(ledger, [e.id for e in entries], {EntryState.COMPLETED})
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    stats = emulator_stats_after_deliveries(emulator, 3)
    assert stats.status_polls_total == 0
    assert stats.webhooks.delivered == 3
    assert err.count(": completed") == 3
    assert token not in banner + out + err


def test_token_is_never_an_argument(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BRIA_API_TOKEN", "env-token")
    for argv in (["--api-token", "s3cr3t-value"], ["--token=s3cr3t-value"]):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--ledger-url", f"sqlite:///{tmp_path / 'l.db'}"])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "BRIA_API_TOKEN" in err
        assert "s3cr3t-value" not in err


def test_missing_token_and_bad_arguments_name_the_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    monkeypatch.delenv("BRIA_API_TOKEN", raising=False)
    with pytest.raises(SystemExit):
        main(["--ledger-url", url])
    assert "BRIA_API_TOKEN is not set" in capsys.readouterr().err

    monkeypatch.setenv("BRIA_API_TOKEN", "env-token")
    cases = [
        (["--ledger-url", "mysql://db/x"], "--ledger-url: backend 'mysql'"),
        (["--ledger-url", url, "--schema", "s"], "--schema: only PostgreSQL"),
        (["--ledger-url", url, "--path", "nope"], "--path: must start with '/'"),
        (["--ledger-url", url, "--unknown-grace", "60"], "--unknown-grace: must be between"),
        (["--ledger-url", url, "--tolerance", "-1"], "argument --tolerance: -1 must be above 0"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err


def test_unreachable_postgres_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIA_API_TOKEN", "env-token")
    started = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        main(["--ledger-url", "postgresql://nobody:pw-secret@127.0.0.1:9/none"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "cannot open the ledger (--ledger-url)" in err
    assert "pw-secret" not in err
    assert time.monotonic() - started < 30

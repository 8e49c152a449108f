"""A run terminated while its Bria step waits, under Dagster's default multiprocess executor.

Dagster interrupts the step's process; it used to turn the interrupt into a retry because the
step has a retry policy ("failed and has requested a retry"). The step now stops at a safe point
and fails without retry; its request stays ``pending`` in the ledger, and the next run resumes
it without paying again. (The Celery executor's case is in ``tests/distributed``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from bria_dagster.emulator import EmulatorConfig, EmulatorServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")
GENERATE = "/v2/image/generate"


def materialize(home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``dagster asset materialize`` of the step, default executor, in a new process group."""
    return subprocess.Popen(
        [
            str(DAGSTER),
            "asset",
            "materialize",
            "-m",
            "tests.dagster.termination_defs",
            "--select",
            "slow_photo",
        ],
        cwd=REPO,
        env=env,
        stdout=(home / "cli.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def ledger_states(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(sa.text("SELECT state FROM bria_requests"))]
    except sa.exc.OperationalError:
        return []
    finally:
        engine.dispose()


def test_terminated_step_stops_without_retry_and_the_next_run_resumes(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config = EmulatorConfig(latency={"generation": 10.0})
    with EmulatorServer(config) as emulator:
        env = dict(os.environ)
        env.update(
            {
                "DAGSTER_HOME": str(home),
                "BRIA_API_TOKEN": f"tok-{uuid.uuid4().hex}",
                "BRIA_BASE_URL": emulator.base_url,
                "TERM_STORAGE_URI": (tmp_path / "images").as_uri(),
                "TERM_LEDGER_URL": ledger_url,
                "PYTHONPATH": str(REPO),
            }
        )
        cli = materialize(home, env)
        try:
            deadline = time.monotonic() + 90
            while ledger_states(ledger_url) != ["pending"]:
                assert cli.poll() is None, (home / "cli.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the step never submitted"
                time.sleep(0.2)
            os.kill(cli.pid, signal.SIGINT)  # what terminating the run does to its run worker
            cli.wait(timeout=60)
        finally:
            if cli.poll() is None:
                os.killpg(cli.pid, signal.SIGKILL)
                cli.wait()

        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            events = instance.all_logs(run.run_id)
            retried = [
                e.message
                for e in events
                if e.dagster_event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
            ]
            assert not retried, retried
            assert not instance.fetch_materializations(dg.AssetKey("slow_photo"), limit=1).records
        assert ledger_states(ledger_url) == ["pending"]
        assert emulator.stats().submits == {GENERATE: 1}

        # The next run resumes the pending request: nothing is sent again.
        emulator.state.configure(latency={"generation": 0.5})
        again = materialize(home, env)
        assert again.wait(timeout=120) == 0, (home / "cli.log").read_text()[-3000:]
        assert emulator.stats().submits == {GENERATE: 1}
        assert ledger_states(ledger_url) == ["stored"]

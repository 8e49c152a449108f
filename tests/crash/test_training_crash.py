"""A tailored model's training, killed: the sensor killed (SIGKILL) while the model trains, and
the training step killed right after Bria created the model or started its training and before
the ledger recorded it. Each time the next process finds what was made: one project, one
dataset, one model, one training, and the model materialized once.

Every process is a fresh ``python -m tests.crash.training_child`` sharing only the instance
folder, the ledger, the store and the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.failpoints import CRASH_ENV, CRASH_EXIT_CODE
from bria_dagster.ledger import EntryState, Ledger
from bria_dagster.resources import BriaResource
from tests.crash.training_child import OUTPUT_PREFIX
from tests.crash.workspace import make_instance
from tests.dagster.test_tailored_model import COLOURS, creations, write_images
from tests.e2e.conftest import FAST_CLIENT

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 120.0
ONE_EACH = {"project": 1, "dataset": 1, "model": 1, "training": 1}


@pytest.fixture
def site(tmp_path: Path, emulator: EmulatorServer) -> Path:
    """The shared instance folder, ledger, store and images of the test's processes."""
    home = tmp_path / "dagster_home"
    make_instance(home)
    folder = tmp_path / "brand"
    write_images(folder, COLOURS)
    path = tmp_path / "site.json"
    client = {k: v for k, v in FAST_CLIENT.items() if k in BriaResource.model_fields}
    path.write_text(
        json.dumps(
            {
                "home": str(home),
                "ledger": f"sqlite:///{tmp_path / 'ledger.db'}",
                "store": (tmp_path / "images").as_uri(),
                "base_url": emulator.base_url,
                "token": f"crash-{uuid.uuid4().hex}",
                "folder": str(folder),
                "client": client,
            }
        )
    )
    return path


def _command(site: Path, mode: str) -> list[str]:
    return [sys.executable, "-m", "tests.crash.training_child", str(site), mode]


def _env(crash_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return env


def _lines(output: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(OUTPUT_PREFIX) :])
        for line in output.splitlines()
        if line.startswith(OUTPUT_PREFIX)
    ]


def _run(site: Path, mode: str, crash_at: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        _command(site, mode),
        cwd=ROOT,
        env=_env(crash_at),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    return done.returncode, _lines(done.stdout)


def _ledger(site: Path) -> Ledger:
    return Ledger.from_url(json.loads(site.read_text())["ledger"])


def _model_materializations(site: Path) -> int:
    home = json.loads(site.read_text())["home"]
    with dg.DagsterInstance.from_config(home) as instance:
        return len(instance.fetch_materializations(dg.AssetKey("style"), limit=10).records)


@pytest.mark.bria_emulator(training_seconds=20)
def test_sensor_killed_mid_training_creates_no_second_model(
    emulator: EmulatorServer, site: Path
) -> None:
    code, lines = _run(site, "train")
    assert code == 0 and lines == [{"op": "train", "success": True}]
    assert creations(emulator) == ONE_EACH

    # The sensor ticks while the model trains and is killed between two ticks.
    sensor = subprocess.Popen(
        _command(site, "sensor"),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert sensor.stdout is not None
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while time.monotonic() < deadline:
        line = sensor.stdout.readline()
        if not line:
            break
        if line.startswith(OUTPUT_PREFIX):
            seen.append(json.loads(line[len(OUTPUT_PREFIX) :]))
            if "still_running 1" in (seen[-1]["skip"] or ""):
                sensor.kill()
                break
    sensor.wait(timeout=30)
    assert sensor.returncode == -9, seen
    assert all(not tick["materialized"] for tick in seen)
    ledger = _ledger(site)
    (training,) = ledger.list(asset_key="style")
    assert training.state is EntryState.PENDING and training.poll_count >= 1

    # A retried training run and a restarted sensor: nothing is created again.
    code, lines = _run(site, "train")
    assert code == 0 and lines == [{"op": "train", "success": True}]
    code, lines = _run(site, "sensor")
    assert code == 0 and lines[-1]["materialized"] == ["style"]
    assert creations(emulator) == ONE_EACH
    assert _model_materializations(site) == 1
    (training,) = ledger.list(asset_key="style")
    assert training.state is EntryState.COMPLETED
    ledger.dispose()


@pytest.mark.bria_emulator(training_seconds=1)
@pytest.mark.parametrize("point", ["tailored.model_posted", "tailored.training_posted"])
def test_training_step_killed_after_a_creating_post_resumes_it(
    emulator: EmulatorServer, site: Path, point: str
) -> None:
    code, lines = _run(site, "train", crash_at=point)
    assert code == CRASH_EXIT_CODE and lines == []
    made = creations(emulator)
    assert made["model"] == 1 and made["training"] == (
        1 if point.endswith("training_posted") else 0
    )
    ledger = _ledger(site)
    kind = point.removeprefix("tailored.").removesuffix("_posted")
    stuck = [e for e in ledger.list(EntryState.SUBMITTING) if e.request_summary["kind"] == kind]
    assert len(stuck) == 1, "the POST left, its answer was never recorded"

    code, lines = _run(site, "train")
    assert code == 0 and lines == [{"op": "train", "success": True}]
    code, lines = _run(site, "sensor")
    assert code == 0 and lines[-1]["materialized"] == ["style"]
    assert creations(emulator) == ONE_EACH
    assert ledger.list(EntryState.SUBMITTING) == []
    (model_row,) = [
        e for e in ledger.list(asset_key="style_training") if e.request_summary["kind"] == "model"
    ]
    (training,) = ledger.list(asset_key="style")
    assert model_row.result is not None
    assert training.request_id is not None
    assert training.request_id.startswith(f"tailored-training-{model_row.result['id']}:")
    ledger.dispose()

"""``bria-ledger spend`` and ``bria-ledger estimate``."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from bria_dagster.ledger import BudgetExceededError, Ledger, SpendCaps
from bria_dagster.ops_cli import main
from bria_dagster.ops_cli.spend import load_definitions

from .conftest import Run

DEFS = textwrap.dedent(
    """
    import os

    import dagster as dg

    from bria_dagster.assets import BriaImageIOManager, bria_asset
    from bria_dagster.client.types.editing import RemoveBackgroundRequest
    from bria_dagster.client.types.generation import GenerateImageRequest
    from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource

    skus = dg.StaticPartitionsDefinition(["a", "b", "c"])
    photo = bria_asset(
        "photo",
        lambda step: GenerateImageRequest(prompt=f"a mug {step.partition_key}", seed=3),
        partitions_def=skus,
    )
    cutout = bria_asset(
        "cutout",
        lambda step: RemoveBackgroundRequest(image=step.image.data),
        upstream=photo,
        partitions_def=skus,
    )
    defs = dg.Definitions(
        assets=[photo, cutout],
        resources={
            "bria": BriaResource(
                base_url=os.environ["TEST_BASE_URL"],
                rate_limit_backend="memory",
                max_requests_per_day=5,
            ),
            "bria_storage": BriaStorageResource(uri=os.environ["TEST_STORE_URI"]),
            "bria_ledger": BriaLedgerResource(url=os.environ["TEST_LEDGER_URL"]),
            "bria_io_manager": BriaImageIOManager(
                storage=BriaStorageResource(uri=os.environ["TEST_STORE_URI"])
            ),
        },
    )
    """
)


def _bill(
    ledger: Ledger, asset: str, partition: str, run_id: str, caps: SpendCaps | None = None
) -> None:
    digest = hashlib.sha256(partition.encode()).hexdigest()
    ledger.begin_submit(asset, partition, "/v2/image/generate", digest, {}, run_id, caps=caps)


def test_spend_shows_billed_requests_per_day_asset_and_run_and_the_caps(
    run: Run, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        _bill(ledger, "photo", f"p{n}", "run-one")
    _bill(ledger, "cutout", "p0", "run-two")
    with pytest.raises(BudgetExceededError):  # refused: not billed, not shown
        _bill(ledger, "cutout", "p1", "run-two", SpendCaps(per_day=4))
    defs = tmp_path / "defs.py"
    defs.write_text(DEFS)
    monkeypatch.setenv("TEST_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TEST_STORE_URI", (tmp_path / "s").as_uri())
    monkeypatch.setenv("TEST_LEDGER_URL", f"sqlite:///{tmp_path / 'l.db'}")
    code, out, _ = run("spend", "-f", str(defs))
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "photo 3" in lines and "cutout 1" in lines
    assert "run-one 3" in lines and "run-two 1" in lines
    assert any(line.endswith(" 4") and line[:4].isdigit() for line in lines), out  # the day
    assert "bria BriaResource.max_requests_per_day 5 4 1" in lines, out


def test_estimate_prices_a_backfill_and_sends_nothing(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("BRIA_API_TOKEN", "estimate-token")
    monkeypatch.setenv("TEST_BASE_URL", emulator.base_url)
    monkeypatch.setenv("TEST_STORE_URI", (tmp_path / "store").as_uri())
    # estimate uses the code location's own ledger resource (not --url)
    monkeypatch.setenv("TEST_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    defs_file = tmp_path / "defs.py"
    defs_file.write_text(DEFS)
    defs = load_definitions(_Args(python_file=str(defs_file)))
    assert defs is not None
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    assert job.execute_in_process(
        partition_key="b", instance=instance, asset_selection=[dg.AssetKey("photo")]
    )
    seq = httpx.get(f"{emulator.base_url}/_emulator/requests").json()["last_seq"]

    capsys.readouterr()
    code = main(["estimate", "-f", str(defs_file), "--select", "photo", "--range", "a", "c"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "would send 2 billed request(s) (1 already stored, reused)" in out
    log = httpx.get(f"{emulator.base_url}/_emulator/requests", params={"since": seq}).json()
    assert log["requests"] == []

    # The step downstream is priced on the upstream images that exist (partition b)...
    with patch_instance(instance):
        code = main(["estimate", "-f", str(defs_file), "--partition", "b"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "would send 1 billed request(s) (1 already stored, reused)" in out
    # With photo[b]'s ledger row gone, photo would pay again, so cutout's price is flagged.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM bria_requests WHERE asset_key = 'photo'")
    engine.dispose()
    with patch_instance(instance):
        code = main(["estimate", "-f", str(defs_file), "--partition", "b"])
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and "photo 1 0 0 0" in lines, lines
    assert "cutout 1 0 0 0 priced on the current images of photo, which would change" in lines
    # ... and is not priced where they do not exist yet (partitions a and c).
    with patch_instance(instance):
        code = main(["estimate", "-f", str(defs_file), "--range", "a", "c"])
    out = capsys.readouterr().out
    assert code == 1, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "photo 3 0 0 0" in lines, out
    (cutout,) = [line for line in lines if line.startswith("cutout ")]
    assert cutout.startswith("cutout 0 0 0 0 not priced") and "not been materialized" in cutout
    log = httpx.get(f"{emulator.base_url}/_emulator/requests", params={"since": seq}).json()
    assert log["requests"] == []


@contextmanager
def patch_instance(instance: dg.DagsterInstance) -> Iterator[None]:
    """Make ``estimate`` run on ``instance`` (where photo[b] was materialized), as it runs on
    ``$DAGSTER_HOME``'s instance in real use."""
    with mock.patch("bria_dagster.ops_cli.spend._instance", lambda: nullcontext(instance)):
        yield


class _Args:
    def __init__(self, python_file: str) -> None:
        self.module_name = None
        self.python_file = python_file


def test_spend_on_a_ledger_from_before_spend_tracking_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Ledger.from_url(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bria_spend")
    engine.dispose()
    code = main(["--ledger-url", url, "spend"])
    assert code == 0
    assert "predates spend tracking" in capsys.readouterr().out

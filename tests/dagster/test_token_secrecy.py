"""The API token appears nowhere Dagster or the store keeps things."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bria_dagster.assets import FORCE_TAG
from tests.dagster.graph import SKUS, build_graph


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_token_is_nowhere_in_instance_logs_or_objects(
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    api_token: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    emulator: Any,
) -> None:
    assets = build_graph()
    result = dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        partition_key=SKUS[0],
        tags={FORCE_TAG: "true"},
    )
    assert result.success
    # The token did reach the API (the emulator accepted it), so the search below is meaningful.
    assert emulator.stats().submits.get("/v2/image/generate") == 1
    assert emulator.stats().file_requests_with_api_token == 0

    needle = api_token.encode()
    home = Path(instance.root_directory)
    images = Path(resources["bria_storage"].uri.removeprefix("file://"))
    ledger = tmp_path / "ledger.db"
    assert list(home.rglob("*.db")) and list(images.rglob("*.png")) and ledger.exists()
    compute_logs = [p for p in home.rglob("*") if p.suffix in (".out", ".err", ".complete")]
    assert compute_logs, "expected compute logs under the instance folder"
    for root in (home, images, tmp_path):
        assert _files_containing(root, needle) == []

    run = instance.get_run_by_id(result.run_id)
    assert run is not None and api_token not in repr(run.run_config)
    for record in instance.get_records_for_run(result.run_id).records:
        assert api_token not in repr(record.event_log_entry)
    captured = capfd.readouterr()
    assert api_token not in captured.out and api_token not in captured.err

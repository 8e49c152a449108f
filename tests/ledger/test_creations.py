"""The ledger rows of a tailored training's creating steps, on SQLite and PostgreSQL: recorded
before and after each POST, found again by a later run, a POST that died unanswered sent again
only after the caller found nothing made, and the training row reported from ``completed``."""

from __future__ import annotations

import pytest

from bria_dagster.ledger import EntryState, Ledger, LedgerStateError
from bria_dagster.ledger.creations import LedgerCreationLog, created_id, is_training


def _log(ledger: Ledger, images: str = "a" * 64) -> LedgerCreationLog:
    return LedgerCreationLog(
        ledger=ledger,
        steps_asset="style_training",
        model_asset="style",
        identity=images,
        project_identity="p" * 64,
        run_id="run-1",
        summary={"image_count": 5},
    )


def test_each_step_is_recorded_and_found_again(ledger: Ledger) -> None:
    log = _log(ledger)
    assert log.known("project") is None
    log.before("project", {"project_name": "Style"})
    (row,) = ledger.list(EntryState.SUBMITTING)
    assert row.asset_key == "style_training" and row.request_summary["kind"] == "project"
    log.after("project", 7, {"id": 7, "project_name": "Style", "secret": "x" * 10})
    assert log.known("project") == 7
    project = log.entry("project")
    assert project is not None and project.state is EntryState.COMPLETED
    assert project.result == {"id": 7, "project_name": "Style"}  # only the ids and names kept

    log.before("training", {"model_id": 3})
    log.after("training", 3, {"id": 3, "status": "InProgress"})
    training = log.entry("training")
    assert training is not None and training.state is EntryState.PENDING
    assert training.asset_key == "style" and is_training(training) and created_id(training) == 3

    # The same images in a later run: the same rows; new images: a new dataset, the same project.
    assert _log(ledger).known("training") == 3
    other = _log(ledger, "b" * 64)
    assert other.known("project") == 7 and other.known("training") is None


def test_a_post_that_died_unanswered_is_sent_again_only_by_its_caller(ledger: Ledger) -> None:
    log = _log(ledger)
    log.before("model", {"name": "style-1"})
    # The process died here. The next run looked the model up by name and found none: the
    # caller sends it again, on the same row.
    log.before("model", {"name": "style-1"})
    (row,) = ledger.list(EntryState.SUBMITTING)
    log.after("model", 11, {"id": 11})
    assert log.known("model") == 11
    assert ledger.get(row.id).state is EntryState.COMPLETED


def test_an_object_found_made_is_adopted_and_a_vanished_one_is_an_error(ledger: Ledger) -> None:
    log = _log(ledger)
    log.after("dataset", 4, {"id": 4, "name": "style-1"})  # made by hand, or by an older run
    dataset = log.entry("dataset")
    assert dataset is not None and dataset.state is EntryState.COMPLETED
    assert dataset.request_summary["adopted"] is True
    with pytest.raises(LedgerStateError, match="bria-ledger abandon"):
        log.before("dataset", {"name": "style-1"})  # Bria no longer lists dataset 4


def test_a_completed_training_is_reported_from_completed(ledger: Ledger) -> None:
    log = _log(ledger)
    log.before("training", {"model_id": 3})
    log.after("training", 3, {"id": 3})
    training = log.entry("training")
    assert training is not None
    ledger.mark_completed(training.id, {"id": 3, "status": "Completed"})
    assert ledger.mark_reported([training.id]) == 1
    assert ledger.get(training.id).reported

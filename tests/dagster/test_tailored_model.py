"""A tailored model as assets, against the emulator: training from a folder, the result sensor
following the training, the model id feeding a generation, no second project/dataset/model for
the same images, and changed images showing the model stale and training a new one."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.observe import observe
from dagster._time import get_current_datetime
from PIL import Image

from bria_dagster.assets import (
    StepInput,
    TailoredModelAsset,
    TailoredTraining,
    bria_asset,
    bria_tailored_model,
)
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types.tailored_generation import TailoredGenerateRequest
from bria_dagster.emulator import EmulatorServer
from bria_dagster.ledger import EntryState
from bria_dagster.resources import BriaResource, BriaStorageResource
from bria_dagster.sensors import build_bria_result_sensor, run_tick

_TG = "/v1/tailored-gen"
CREATING = {
    "project": f"{_TG}/projects",
    "dataset": f"{_TG}/datasets",
    "model": f"{_TG}/models",
    "training": f"{_TG}/models/*/start_training",
}
COLOURS = ["#c0392b", "#e67e22", "#f1c40f", "#16a085", "#2980b9"]


def write_images(folder: Path, colours: list[str]) -> None:
    """One small PNG per colour (the training images)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, colour in enumerate(colours):
        out = io.BytesIO()
        Image.new("RGB", (256, 256), colour).save(out, "PNG")
        (folder / f"look-{index}.png").write_bytes(out.getvalue())


def creations(emulator: EmulatorServer) -> dict[str, int]:
    """Accepted creating POSTs seen by the emulator, per step."""
    return {
        kind: sum(
            1 for r in emulator.requests(path=path, method="POST") if r.status in (200, 201, 202)
        )
        for kind, path in CREATING.items()
    }


def style_training(folder: Path) -> TailoredTraining:
    """The test model's training: the folder's images, upscaled on upload (they are small)."""
    return TailoredTraining(
        images=folder, ip_type="stylized_scene", ip_medium="photography", increase_resolution=True
    )


def visual_request(step: StepInput) -> TailoredGenerateRequest:
    return TailoredGenerateRequest(
        tailored_model_id=step.tailored_model_id, prompt="a sunlit terrace", seed=3
    )


@pytest.fixture
def storage(tmp_path: Path) -> BriaStorageResource:
    """Storage on file:// only (the model stores nothing; its generations are stored as any)."""
    return BriaStorageResource(uri=(tmp_path / "images").as_uri())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "brand"
    write_images(path, COLOURS)
    return path


@pytest.fixture
def graph(folder: Path) -> tuple[TailoredModelAsset, dg.AssetsDefinition, dg.SensorDefinition]:
    model = bria_tailored_model(
        "style",
        style_training(folder),
    )
    visual = bria_asset("visual", visual_request, upstream=model)
    sensor = build_bria_result_sensor([model], downstream=[visual])
    return model, visual, sensor


def _observe(model: TailoredModelAsset, instance: dg.DagsterInstance) -> None:
    assert model.images is not None
    result = observe([model.images], instance=instance)
    assert result.success


def _tick_until_trained(
    sensor: dg.SensorDefinition,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    key: dg.AssetKey,
) -> tuple[dg.AssetMaterialization, list[dg.RunRequest], str | None]:
    cursor: str | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data = run_tick(
            sensor, instance=instance, definitions=defs, resources=resources, cursor=cursor
        )
        cursor = data.cursor
        found = [
            e
            for e in data.asset_events or []
            if isinstance(e, dg.AssetMaterialization) and e.asset_key == key
        ]
        if found:
            return found[0], list(data.run_requests or []), cursor
        time.sleep(0.3)
    raise AssertionError("training never completed")


def _stale(defs: dg.Definitions, instance: dg.DagsterInstance, key: dg.AssetKey) -> StaleStatus:
    """Dagster's own staleness of ``key`` (what the UI shows as stale)."""
    graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    return CachingStaleStatusResolver(instance, graph, view).get_status(key)


@pytest.mark.bria_emulator(training_seconds=1.5)
def test_trains_once_reports_the_model_and_feeds_a_generation(
    emulator: EmulatorServer,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    graph: tuple[TailoredModelAsset, dg.AssetsDefinition, dg.SensorDefinition],
    folder: Path,
) -> None:
    model, visual, sensor = graph
    assets = [*model, visual]
    defs = dg.Definitions(assets=assets, sensors=[sensor], resources=resources)
    _observe(model, instance)

    first = dg.materialize(
        assets, selection=[model.training.key], instance=instance, resources=resources
    )
    assert first.success
    assert creations(emulator) == {"project": 1, "dataset": 1, "model": 1, "training": 1}
    training_meta = first.asset_materializations_for_node(model.training.key.path[-1])[0].metadata
    model_id = training_meta["bria/tailored_model_id"].value
    assert training_meta["bria/image_count"].value == 5
    assert "data:image/" in str(training_meta["preview"].value)

    ledger = resources["bria_ledger"].get_ledger()
    steps = {e.request_summary["kind"]: e for e in ledger.list(asset_key="style_training")}
    assert {k: e.state for k, e in steps.items()} == dict.fromkeys(
        ("project", "dataset", "model"), EntryState.COMPLETED
    )
    (training,) = ledger.list(asset_key="style")
    assert training.state is EntryState.PENDING
    assert training.request_id is not None and training.request_id.startswith(
        f"tailored-training-{model_id}:"
    )

    # A second run while the model trains finds every id in the ledger: nothing created again.
    again = dg.materialize(
        assets, selection=[model.training.key], instance=instance, resources=resources
    )
    assert again.success
    assert creations(emulator) == {"project": 1, "dataset": 1, "model": 1, "training": 1}

    trained, runs, _cursor = _tick_until_trained(sensor, defs, instance, resources, model.key)
    assert trained.metadata["bria/tailored_model_id"].value == model_id
    assert trained.metadata["bria/tailored_project_id"].value == steps["project"].result["id"]
    assert trained.metadata["bria/tailored_dataset_id"].value == steps["dataset"].result["id"]
    assert trained.metadata["bria/image_count"].value == 5
    assert trained.metadata["bria/training_seconds"].value >= 1.0
    assert "data:image/" in str(trained.metadata["preview"].value)
    assert trained.tags is not None
    assert trained.tags["dagster/data_version"] == training_meta["bria/images_sha256"].value
    assert [run.asset_selection for run in runs] == [[visual.key]]

    made = dg.materialize(assets, selection=[visual.key], instance=instance, resources=resources)
    assert made.success
    (sent,) = emulator.requests(path="/v2/image/generate/tailored", method="POST")
    assert sent.json is not None and str(sent.json["tailored_model_id"]) == str(model_id)
    assert _stale(defs, instance, model.training.key) is StaleStatus.FRESH

    # New images: the training shows stale; training again makes a new dataset and model in
    # the same project (the old model is not reused for the new images).
    write_images(folder, [*COLOURS[:4], "#8e44ad"])
    _observe(model, instance)
    assert _stale(defs, instance, model.training.key) is StaleStatus.STALE
    retrained = dg.materialize(
        assets, selection=[model.training.key], instance=instance, resources=resources
    )
    assert retrained.success
    assert creations(emulator) == {"project": 1, "dataset": 2, "model": 2, "training": 2}
    new_meta = retrained.asset_materializations_for_node(model.training.key.path[-1])[0].metadata
    assert new_meta["bria/tailored_model_id"].value != model_id
    assert new_meta["bria/tailored_project_id"].value == steps["project"].result["id"]
    # When the new model lands, the generation made with the old one is stale.
    assert _stale(defs, instance, model.training.key) is StaleStatus.FRESH
    assert _stale(defs, instance, visual.key) is StaleStatus.FRESH
    retrained_model, _runs, _cursor = _tick_until_trained(
        sensor, defs, instance, resources, model.key
    )
    assert retrained_model.metadata["bria/tailored_model_id"].value != model_id
    assert _stale(defs, instance, visual.key) is StaleStatus.STALE
    ledger.dispose()


def test_a_folder_with_too_few_images_fails_naming_the_field(
    emulator: EmulatorServer, instance: dg.DagsterInstance, resources: dict[str, Any], folder: Path
) -> None:
    for extra in sorted(folder.iterdir())[1:]:
        extra.unlink()
    model = bria_tailored_model(
        "style",
        style_training(folder),
    )
    result = dg.materialize(
        list(model),
        selection=[model.training.key],
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "need 5-200 images, got 1" in failure.message
    assert creations(emulator) == dict.fromkeys(CREATING, 0)


def test_the_factory_checks_its_arguments(folder: Path) -> None:
    photo = bria_asset("photo", lambda step: [])
    with pytest.raises(BriaInputError, match="images"):
        bria_tailored_model(
            "style",
            style_training(folder),
            upstream=photo,
        )
    with pytest.raises(BriaInputError, match="partitions_def"):
        bria_tailored_model(
            "style",
            style_training(folder),
            partitions_def=dg.StaticPartitionsDefinition(["a"]),
        )


def test_a_generation_before_any_model_fails_without_retry(
    emulator: EmulatorServer,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    graph: tuple[TailoredModelAsset, dg.AssetsDefinition, dg.SensorDefinition],
) -> None:
    model, visual, _sensor = graph
    result = dg.materialize(
        [*model, visual],
        selection=[visual.key],
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "tailored model style has no trained model yet" in error.message
    assert emulator.requests(path="/v2/*", method="POST") == []


def test_each_creating_post_counts_against_the_spend_caps(
    emulator: EmulatorServer,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    bria_fields: dict[str, Any],
    folder: Path,
) -> None:
    capped = {**resources, "bria": BriaResource(**bria_fields, max_requests_per_run=1)}
    model = bria_tailored_model("style", style_training(folder))
    result = dg.materialize(
        list(model),
        selection=[model.training.key],
        instance=instance,
        resources=capped,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()  # not retried
    error = failure.step_failure_data.error
    assert error is not None and "BriaResource.max_requests_per_run" in error.message
    # The project was made (and is recorded for the next run); nothing after the cap was sent.
    assert creations(emulator) == {"project": 1, "dataset": 0, "model": 0, "training": 0}

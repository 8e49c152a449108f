"""``client.tailored.train_model``: one call from images to a trained model, resumable."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bria_dagster.client.catalog import TrainingFailedError
from bria_dagster.client.errors import BriaInputError, ServerError, WaitTimeoutError
from bria_dagster.client.types.tailored import TrainModelRequest
from bria_dagster.emulator import EmulatorServer, FaultRule
from bria_dagster.emulator.backends.tailored import Tailored
from bria_dagster.emulator.handlers.tailored import tailored_of

from .conftest import AsyncCatalogClient, CatalogClient, hosted, png

ARGS: dict[str, Any] = {
    "project_name": "Brand icons",
    "ip_type": "icons",
    "ip_medium": "illustration",
    "poll_interval": 0.01,
}


def image_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "training"
    folder.mkdir()
    for i in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (256, 256), (i * 20 % 255, 80, 160)).save(buffer, format="PNG")
        (folder / f"icon_{i:02d}.png").write_bytes(buffer.getvalue())
    (folder / "notes.txt").write_text("not an image")
    return folder


def posts(emulator: EmulatorServer, suffix: str) -> int:
    return sum(1 for s in emulator.requests(method="POST") if s.path.endswith(suffix))


def writes(emulator: EmulatorServer) -> int:
    return len(emulator.requests(method="POST")) + len(emulator.requests(method="PUT"))


def held(emulator: EmulatorServer) -> Tailored:
    """The emulator's tailored projects, datasets, images and models."""
    return tailored_of(emulator.state)


def images_held(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [image for images in held(emulator).images.values() for image in images.values()]


def test_trains_from_a_folder_in_one_call(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    outcome = client.tailored.train_model(images=image_folder(tmp_path, 7), **ARGS)
    assert outcome.model.is_trained
    assert outcome.images_uploaded == 7 and outcome.images_skipped == 0
    assert outcome.dataset.is_completed and outcome.dataset.visual_schema
    names = sorted(i["image_name"] for i in images_held(emulator))
    assert names == [f"icon_{i:02d}.png" for i in range(7)]
    assert posts(emulator, "/generate_visual_schema") == 1
    schema = emulator.requests(method="POST", path="/v1/tailored-gen/generate_visual_schema")
    assert len(schema[0].json["images"]) == 7
    assert posts(emulator, "/start_training") == 1
    # It polled the model until training ended (the emulator trains for 0.1 s), then stopped.
    [start] = emulator.requests(method="POST", path="/v1/tailored-gen/models/*/start_training")
    polls = emulator.requests(method="GET", path="/v1/tailored-gen/models/*")
    assert len(polls) >= 3 and polls[-1].time - start.time >= 0.09


def test_an_interrupted_run_resumes_without_duplicates(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    folder = image_folder(tmp_path, 8)
    uploads = ("/v1/tailored-gen/datasets/*/images",)
    emulator.state.configure(
        faults=[FaultRule(kind="server_error", status_code=500, after=3, paths=uploads)]
    )
    with pytest.raises(ServerError):
        client.tailored.train_model(images=folder, **ARGS)
    assert len(images_held(emulator)) == 3
    emulator.state.configure(faults=[])

    outcome = client.tailored.train_model(images=folder, **ARGS)
    assert outcome.images_uploaded == 5 and outcome.images_skipped == 3
    tailored = held(emulator)
    assert (len(tailored.projects), len(tailored.datasets), len(tailored.models)) == (1, 1, 1)
    assert len(images_held(emulator)) == 8
    assert posts(emulator, "/generate_visual_schema") == 1  # set before the failure
    assert outcome.model.is_trained

    before = writes(emulator)
    again = client.tailored.train_model(images=folder, **ARGS)
    assert again.model.id == outcome.model.id and again.images_uploaded == 0
    assert writes(emulator) == before  # reads only


@pytest.mark.bria_emulator(training_seconds=60)
def test_without_waiting_it_returns_the_training_model(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    images = {f"img{i}.png": hosted(emulator, png(color=(i, 9, 9))) for i in range(5)}
    outcome = client.tailored.train_model(images=images, wait=False, model_name="v2", **ARGS)
    assert outcome.model.status == "InProgress"
    sent = [s.json for s in emulator.requests(method="POST", path="/v1/tailored-gen/datasets/*")]
    assert sent[0] == {"image_url": images["img0.png"], "image_name": "img0.png"}
    # A rerun finds the model training and (with a timeout) waits for it.
    with pytest.raises(WaitTimeoutError):
        client.tailored.train_model(images=images, model_name="v2", timeout=0.05, **ARGS)
    assert posts(emulator, "/start_training") == 1


def test_expert_parameters_and_failures(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.configure(faults=[FaultRule(kind="training_failed", count=1)])
    folder = image_folder(tmp_path, 5)
    with pytest.raises(TrainingFailedError) as caught:
        client.tailored.train_model(
            images=folder, training_mode="expert", training_parameters={"rank": 32}, **ARGS
        )
    assert caught.value.model.status == "Failed"
    [start] = emulator.requests(method="POST", path="/v1/tailored-gen/models/*")
    assert start.json == {"rank": 32}
    # A failed model is not silently retrained (a new training would succeed: count 1).
    with pytest.raises(TrainingFailedError):
        client.tailored.train_model(images=folder, training_mode="expert", **ARGS)
    assert posts(emulator, "/start_training") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"images": "count"}, "images"),
        ({"ip_type": "icons", "ip_medium": "photography"}, "ip_type"),
        ({"training_parameters": {"rank": 8}}, "training_parameters"),
        ({"training_parameters": {"rank": 1}}, "rank"),
        ({"dataset_name": " "}, "dataset_name"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"images": "duplicates"}, "images[a.png]"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    client: CatalogClient,
    emulator: EmulatorServer,
    tmp_path: Path,
    change: dict[str, Any],
    field: str,
) -> None:
    args = {**ARGS, **change}
    images: Any = image_folder(tmp_path, 6)
    if change.get("images") == "count":
        images = [tmp_path / "x.png"] * 4
    elif change.get("images") == "duplicates":
        images = ["https://a.example.com/a.png"] * 2 + ["https://b.example.com/a.png"] * 4
    args.pop("images", None)
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(images=images, **args)
    assert caught.value.field == field
    assert emulator.requests() == []


def test_a_project_of_the_same_name_but_another_type_is_not_reused(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    client.tailored.projects.create(
        project_name="Brand icons", ip_type="other", ip_medium="photography"
    )
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(images=image_folder(tmp_path, 5), **ARGS)
    assert caught.value.field == "project_name"
    assert held(emulator).datasets == {}


async def test_async_training(
    aclient: AsyncCatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    outcome = await aclient.tailored.train_model(images=image_folder(tmp_path, 5), **ARGS)
    assert outcome.model.is_trained and outcome.images_uploaded == 5


def test_takes_one_request_model(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path
) -> None:
    request = TrainModelRequest(images=image_folder(tmp_path, 5), **ARGS)
    outcome = client.tailored.train_model(request)
    assert outcome.model.is_trained and outcome.images_uploaded == 5
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(tmp_path)
    assert caught.value.field == "request"
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(images=tmp_path, project_name="x", ip_type="icons")
    assert caught.value.field == "ip_medium"

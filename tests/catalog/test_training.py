"""``client.tailored.train_model``: one call from images to a trained model, resumable."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bria_dagster.client.catalog import TrainingFailedError
from bria_dagster.client.errors import BriaInputError, ServerError, WaitTimeoutError

from .conftest import AsyncCatalogClient, CatalogClient
from .fake_bria import FakeBria

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
        Image.new("RGB", (8, 8), (i * 20 % 255, 80, 160)).save(buffer, format="PNG")
        (folder / f"icon_{i:02d}.png").write_bytes(buffer.getvalue())
    (folder / "notes.txt").write_text("not an image")
    return folder


def posts(fake: FakeBria, suffix: str) -> int:
    return sum(1 for s in fake.requests("POST") if s.path.endswith(suffix))


def test_trains_from_a_folder_in_one_call(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    fake.training_polls = 3
    outcome = client.tailored.train_model(image_folder(tmp_path, 7), **ARGS)
    assert outcome.model.is_trained
    assert outcome.images_uploaded == 7 and outcome.images_skipped == 0
    assert outcome.dataset.is_completed and outcome.dataset.visual_schema
    names = sorted(i["image_name"] for i in fake.images.values())
    assert names == [f"icon_{i:02d}.png" for i in range(7)]
    assert posts(fake, "/generate_visual_schema") == 1
    schema_body = fake.requests("POST", "/v1/tailored-gen/generate_visual_schema")[0].json
    assert len(schema_body["images"]) == 7
    assert posts(fake, "/start_training") == 1
    assert len(fake.requests("GET", "/v1/tailored-gen/models/")) == 3


def test_an_interrupted_run_resumes_without_duplicates(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    folder = image_folder(tmp_path, 8)
    fake.fail_uploads_after = 3
    with pytest.raises(ServerError):
        client.tailored.train_model(folder, **ARGS)
    assert len(fake.images) == 3
    fake.fail_uploads_after = None

    outcome = client.tailored.train_model(folder, **ARGS)
    assert outcome.images_uploaded == 5 and outcome.images_skipped == 3
    assert len(fake.projects) == 1 and len(fake.datasets) == 1 and len(fake.models) == 1
    assert len(fake.images) == 8
    assert posts(fake, "/generate_visual_schema") == 1  # the schema was set before the failure
    assert outcome.model.is_trained

    before = len(fake.requests("POST")) + len(fake.requests("PUT"))
    again = client.tailored.train_model(folder, **ARGS)
    assert again.model.id == outcome.model.id and again.images_uploaded == 0
    assert len(fake.requests("POST")) + len(fake.requests("PUT")) == before  # reads only


def test_without_waiting_it_returns_the_training_model(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    fake.training_polls = 100
    images = {f"img{i}.png": "https://img.example.com/" + str(i) for i in range(5)}
    outcome = client.tailored.train_model(images, wait=False, model_name="v2", **ARGS)
    assert outcome.model.status == "InProgress"
    sent = [s.json for s in fake.requests("POST", "/v1/tailored-gen/datasets/")]
    assert sent[0] == {"image_url": "https://img.example.com/0", "image_name": "img0.png"}
    # A rerun finds the model training and (with a timeout) waits for it.
    with pytest.raises(WaitTimeoutError):
        client.tailored.train_model(images, model_name="v2", timeout=0.05, **ARGS)
    assert posts(fake, "/start_training") == 1


def test_expert_parameters_and_failures(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    fake.training_outcome = "Failed"
    folder = image_folder(tmp_path, 5)
    with pytest.raises(TrainingFailedError) as caught:
        client.tailored.train_model(
            folder, training_mode="expert", training_parameters={"rank": 32}, **ARGS
        )
    assert caught.value.model.status == "Failed"
    start = fake.requests("POST", "/v1/tailored-gen/models/")[0]
    assert start.json == {"rank": 32}
    with pytest.raises(TrainingFailedError):  # a failed model is not silently retrained
        client.tailored.train_model(folder, training_mode="expert", **ARGS)


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
    client: CatalogClient, fake: FakeBria, tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    args = {**ARGS, **change}
    images: Any = image_folder(tmp_path, 6)
    if change.get("images") == "count":
        images = [tmp_path / "x.png"] * 4
    elif change.get("images") == "duplicates":
        images = ["https://a.example.com/a.png"] * 2 + ["https://b.example.com/a.png"] * 4
    args.pop("images", None)
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(images, **args)
    assert caught.value.field == field
    assert fake.requests() == []


def test_a_project_of_the_same_name_but_another_type_is_not_reused(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    client.tailored.projects.create(
        project_name="Brand icons", ip_type="other", ip_medium="photography"
    )
    with pytest.raises(BriaInputError) as caught:
        client.tailored.train_model(image_folder(tmp_path, 5), **ARGS)
    assert caught.value.field == "project_name"
    assert fake.datasets == {}


async def test_async_training(aclient: AsyncCatalogClient, fake: FakeBria, tmp_path: Path) -> None:
    outcome = await aclient.tailored.train_model(image_folder(tmp_path, 5), **ARGS)
    assert outcome.model.is_trained and outcome.images_uploaded == 5

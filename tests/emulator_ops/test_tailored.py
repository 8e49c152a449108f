"""The tailored-generation workflow as a state machine: projects, datasets, images, models, and
the 201/202/204/404/409/412 answers Bria gives at each step (bria-api.md §5.3)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bria_dagster.emulator import EmulatorServer
from bria_dagster.video_files import decode_frames

from .helpers import (
    b64,
    error_of,
    fetch,
    json_of,
    open_url,
    product_photo,
    run_async,
    run_sync,
)

T = "/v1/tailored-gen"
PROJECT = {
    "project_name": "mascots",
    "ip_name": "Lora",
    "ip_description": "a red fox",
    "ip_medium": "illustration",
    "ip_type": "defined_character",
}
SCHEMA = json.dumps({"character": "string", "pose": "string"})


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def _image(index: int, side: int = 256) -> str:
    return b64(product_photo((side, side)).rotate(index * 30))


def _project(http: httpx.Client) -> dict[str, Any]:
    project: dict[str, Any] = _ok(http.post(f"{T}/projects", json=PROJECT), 201)
    return project


def _dataset(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    project = _project(http)
    body = {"project_id": project["id"], "name": "hero shots", **extra}
    dataset: dict[str, Any] = _ok(http.post(f"{T}/datasets", json=body), 201)
    return dataset


def _fill(http: httpx.Client, dataset_id: int, count: int = 5) -> list[dict[str, Any]]:
    return [
        _ok(
            http.post(
                f"{T}/datasets/{dataset_id}/images",
                json={"file": _image(i), "image_name": f"hero_{i}.png"},
            ),
            201,
        )
        for i in range(count)
    ]


def _completed_dataset(http: httpx.Client) -> dict[str, Any]:
    dataset = _dataset(http)
    _ok(http.put(f"{T}/datasets/{dataset['id']}", json={"visual_schema": SCHEMA}))
    _fill(http, dataset["id"])
    done: dict[str, Any] = _ok(
        http.put(f"{T}/datasets/{dataset['id']}", json={"status": "completed"})
    )
    return done


def _model(http: httpx.Client, dataset_id: int, mode: str = "fully_automated") -> dict[str, Any]:
    body = {"name": "hero", "dataset_id": dataset_id, "training_mode": mode}
    model: dict[str, Any] = _ok(http.post(f"{T}/models", json=body), 201)
    return model


def _trained_model(http: httpx.Client, emulator: EmulatorServer) -> dict[str, Any]:
    emulator.state.configure(training_seconds=0.0)
    model = _model(http, _completed_dataset(http)["id"])
    _ok(http.post(f"{T}/models/{model['id']}/start_training", json={}))
    trained: dict[str, Any] = _ok(http.get(f"{T}/models/{model['id']}"))
    assert trained["status"] == "Completed"
    return trained


def test_projects_are_created_listed_updated_and_deleted(http: httpx.Client) -> None:
    project = _project(http)
    assert isinstance(project["id"], int) and project["status"] == "active"
    assert {k: project[k] for k in PROJECT} == PROJECT
    assert {"created_at", "training_version", "project_description"} <= set(project)
    assert _ok(http.get(f"{T}/projects")) == [project]
    renamed = _ok(http.put(f"{T}/projects/{project['id']}", json={"project_name": "heroes"}))
    assert renamed["project_name"] == "heroes"
    assert _ok(http.get(f"{T}/projects/{project['id']}"))["project_name"] == "heroes"
    assert http.delete(f"{T}/projects/{project['id']}").status_code == 204
    error_of(http.get(f"{T}/projects/{project['id']}"), 404)


def test_project_bodies_are_validated_naming_the_field(http: httpx.Client) -> None:
    missing = error_of(
        http.post(f"{T}/projects", json={"project_name": "x", "ip_medium": "photography"}), 400
    )
    assert "ip_type" in missing["details"]
    bad = error_of(http.post(f"{T}/projects", json={**PROJECT, "ip_medium": "sculpture"}), 400)
    assert "ip_medium" in bad["details"]


def test_a_dataset_starts_as_an_empty_draft(http: httpx.Client) -> None:
    dataset = _dataset(http)
    assert dataset["status"] == "draft" and dataset["captions_update_status"] == "empty"
    assert dataset["visual_schema"] is None and dataset["upload_type"] == "basic"
    error_of(http.post(f"{T}/datasets", json={"project_id": 999_999, "name": "x"}), 404)
    listed = _ok(http.get(f"{T}/projects/{dataset['project_id']}/datasets"))
    assert [d["id"] for d in listed] == [dataset["id"]]


def test_images_uploaded_before_the_schema_wait_for_captions(http: httpx.Client) -> None:
    dataset = _dataset(http)
    (image,) = _fill(http, dataset["id"], 1)
    assert image["caption"] is None and image["caption_source"] == "pending"
    assert open_url(image["image_url"]).size == (256, 256)
    _ok(http.put(f"{T}/datasets/{dataset['id']}", json={"visual_schema": SCHEMA}))
    regenerating = _ok(http.put(f"{T}/datasets/{dataset['id']}/images"), 202)
    assert regenerating["captions_update_status"] == "in_progress"
    again = _ok(http.get(f"{T}/datasets/{dataset['id']}"))
    assert again["captions_update_status"] == "completed" and again["images_count"] == 1
    (captioned,) = again["images"]
    assert json_of(captioned["caption"]) and captioned["caption_source"] == "automatic"


def test_low_resolution_images_are_refused_with_412(http: httpx.Client) -> None:
    dataset = _dataset(http)
    small = http.post(f"{T}/datasets/{dataset['id']}/images", json={"file": _image(0, 200)})
    error_of(small, 412)
    strict = http.post(
        f"{T}/datasets/{dataset['id']}/images",
        json={"file": _image(0, 512), "increase_resolution": False},
    )
    error_of(strict, 412)


def test_captions_are_set_by_hand_or_regenerated_not_both(http: httpx.Client) -> None:
    dataset = _dataset(http)
    (image,) = _fill(http, dataset["id"], 1)
    url = f"{T}/datasets/{dataset['id']}/images/{image['id']}"
    manual = _ok(http.put(url, json={"caption": json.dumps({"short_description": "a hero"})}))
    assert manual["caption_source"] == "manual"
    regenerated = _ok(http.put(url, json={"regenerate_caption": True}))
    assert regenerated["caption_source"] == "automatic"
    both = http.put(url, json={"caption": "{}", "regenerate_caption": True})
    error_of(both, 400)


def test_visual_schema_needs_five_to_ten_images(http: httpx.Client) -> None:
    four = http.post(f"{T}/generate_visual_schema", json={"images": [_image(i) for i in range(4)]})
    assert "images" in error_of(four, 400)["details"]
    five = _ok(
        http.post(f"{T}/generate_visual_schema", json={"images": [_image(i) for i in range(5)]})
    )
    assert json_of(five["visual_schema"])


def test_a_completed_dataset_is_frozen(http: httpx.Client) -> None:
    dataset = _dataset(http)
    images = _fill(http, dataset["id"], 4)
    error_of(http.put(f"{T}/datasets/{dataset['id']}", json={"status": "completed"}), 409)
    images += _fill(http, dataset["id"], 1)
    done = _ok(http.put(f"{T}/datasets/{dataset['id']}", json={"status": "completed"}))
    assert done["status"] == "completed" and done["images_count"] == 5
    url = f"{T}/datasets/{dataset['id']}"
    error_of(http.put(url, json={"visual_schema": SCHEMA}), 409)
    error_of(http.post(f"{url}/images", json={"file": _image(9)}), 409)
    error_of(http.delete(f"{url}/images/{images[0]['id']}"), 409)
    error_of(http.put(f"{url}/images/{images[0]['id']}", json={"caption": "{}"}), 409)


def test_clone_makes_a_draft_copy_with_the_images(http: httpx.Client) -> None:
    dataset = _completed_dataset(http)
    clone = _ok(http.post(f"{T}/datasets/{dataset['id']}/clone", json={}), 201)
    assert clone["id"] != dataset["id"] and clone["status"] == "draft"
    assert clone["name"] == f"Copy of {dataset['name']}"
    assert clone["visual_schema"] == SCHEMA and len(clone["images"]) == 5
    _ok(http.post(f"{T}/datasets/{clone['id']}/images", json={"file": _image(7)}), 201)


def test_single_uploads_need_a_basic_dataset_and_bulk_an_advanced_one(http: httpx.Client) -> None:
    basic = _dataset(http)
    error_of(
        http.post(
            f"{T}/datasets/{basic['id']}/images/bulk-upload", json={"zip_url": "https://x.io/a.zip"}
        ),
        409,
    )
    advanced = _dataset(http, upload_type="advanced")
    error_of(http.post(f"{T}/datasets/{advanced['id']}/images", json={"file": _image(0)}), 409)


def test_models_train_from_created_to_completed(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(training_seconds=0.3)
    dataset = _dataset(http)
    model = _model(http, dataset["id"])
    assert model["status"] == "Created" and model["training_parameters"] == {}
    assert model["active_model_version"] == "default" and model["checkpoint_steps"] == []
    error_of(http.post(f"{T}/models/{model['id']}/start_training", json={}), 412)
    _fill(http, dataset["id"])
    _ok(http.put(f"{T}/datasets/{dataset['id']}", json={"status": "completed"}))
    started = _ok(http.post(f"{T}/models/{model['id']}/start_training", json={}))
    assert started["status"] == "InProgress"
    error_of(http.post(f"{T}/models/{model['id']}/start_training", json={}), 409)
    error_of(http.get(f"{T}/models/{model['id']}/download"), 409)
    error_of(http.delete(f"{T}/models/{model['id']}"), 409)
    error_of(http.delete(f"{T}/datasets/{dataset['id']}"), 409)
    error_of(http.delete(f"{T}/projects/{dataset['project_id']}"), 409)
    deadline = time.monotonic() + 5
    while _ok(http.get(f"{T}/models/{model['id']}"))["status"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _ok(http.get(f"{T}/models/{model['id']}"))["status"] == "Completed"
    download = _ok(http.get(f"{T}/models/{model['id']}/download"))
    assert download["download_url"] and download["base_model_name"]
    assert http.delete(f"{T}/projects/{dataset['project_id']}").status_code == 204
    error_of(http.get(f"{T}/models/{model['id']}"), 404)
    error_of(http.get(f"{T}/datasets/{dataset['id']}"), 404)


def test_stopped_training_cannot_resume(http: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.configure(training_seconds=60)
    model = _model(http, _completed_dataset(http)["id"])
    error_of(http.post(f"{T}/models/{model['id']}/stop_training", json={}), 409)
    _ok(http.post(f"{T}/models/{model['id']}/start_training", json={}))
    stopped = _ok(http.post(f"{T}/models/{model['id']}/stop_training", json={}))
    assert stopped["status"] == "Stopped"
    error_of(http.post(f"{T}/models/{model['id']}/start_training", json={}), 409)
    error_of(http.post(f"{T}/models/{model['id']}/stop_training", json={}), 409)
    assert http.delete(f"{T}/models/{model['id']}").status_code == 204


def test_expert_training_keeps_parameters_and_checkpoints(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.configure(training_seconds=0.0)
    model = _model(http, _completed_dataset(http)["id"], mode="expert")
    params = {"total_training_steps": 1000, "checkpoint_interval": 250, "rank": 64}
    started = _ok(http.post(f"{T}/models/{model['id']}/start_training", json=params))
    assert started["training_parameters"]["rank"] == 64
    assert started["training_parameters"]["lr_scheduler"] == "constant_with_warmup"
    checkpoints = _ok(http.get(f"{T}/models/{model['id']}/checkpoints"))
    assert [c["checkpoint_step"] for c in checkpoints["checkpoints"]] == [250, 500, 750, 1000]
    bad = http.post(f"{T}/models/{model['id']}/start_training", json={"rank": 1024})
    assert "rank" in error_of(bad, 400)["details"]


def test_refine_structured_prompt_needs_a_draft_dataset(http: httpx.Client) -> None:
    draft = _dataset(http)
    body = {
        "structured_prompt": json.dumps({"short_description": "a hero"}),
        "instruction": "smile",
    }
    refined = _ok(
        http.post(f"{T}/refine_structured_prompt", json={**body, "dataset_id": draft["id"]})
    )
    assert json_of(refined["structured_prompt"])["edit_instruction"] == "smile"
    done = _completed_dataset(http)
    error_of(
        http.post(f"{T}/refine_structured_prompt", json={**body, "dataset_id": done["id"]}), 409
    )


def test_a_trained_model_generates_images_prompts_and_videos(
    http: httpx.Client, emulator: EmulatorServer
) -> None:
    model_id = str(_trained_model(http, emulator)["id"])
    image = run_sync(
        http, "/v2/image/generate/tailored", {"tailored_model_id": model_id, "prompt": "a hero"}
    )
    assert open_url(image["image_url"]).width > 0 and json_of(image["structured_prompt"])
    prompt = run_sync(
        http,
        "/v2/structured_prompt/generate/tailored",
        {"tailored_model_id": model_id, "prompt": "a hero"},
    )
    assert json_of(prompt["structured_prompt"]) and "image_url" not in prompt
    video = run_async(
        http,
        "/v2/video/generate/tailored/image-to-video",
        {"tailored_model_id": model_id, "image": b64(product_photo())},
    )
    assert video["status"] == "COMPLETED", video
    frames, _ = decode_frames(fetch(video["result"]["video_url"]))
    assert len(frames) > 1


@pytest.mark.parametrize(
    "path", [f"{T}/projects/12345", f"{T}/datasets/12345", f"{T}/models/12345"]
)
def test_unknown_ids_answer_404(http: httpx.Client, path: str) -> None:
    error_of(http.get(path), 404)

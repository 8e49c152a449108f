"""Rules of Bria's spec the operations enforce beyond the request models: result fields the
spec requires, input moderation defaults, output size limits, and the tailored extras
(checkpoints, dataset download, bulk zip upload)."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bria_dagster.emulator import EmulatorServer
from bria_dagster.emulator.handlers import draw, image_edit

from .helpers import (
    b64,
    encode,
    error_of,
    fetch,
    json_of,
    open_url,
    product_photo,
    run_async,
    run_sync,
)
from .test_tailored import T, _completed_dataset, _dataset, _model, _ok, _trained_model
from .test_v2_results import FIBO_EDITS


@pytest.mark.parametrize("path", sorted(FIBO_EDITS))
def test_fibo_edits_answer_a_structured_instruction(http: httpx.Client, path: str) -> None:
    result = run_sync(http, path, {"image": b64(product_photo()), **FIBO_EDITS[path]})
    instruction = json_of(result["structured_instruction"])  # required by SyncEditResponse
    assert instruction["edit_instruction"]


def test_structured_instruction_generate_answers_an_instruction(http: httpx.Client) -> None:
    body = {"images": [b64(product_photo())], "instruction": "add a hat"}
    result = run_sync(http, "/v2/structured_instruction/generate", body)
    assert set(result) == {"structured_instruction", "seed"}
    assert json_of(result["structured_instruction"])["edit_instruction"] == "add a hat"


def _flagged_image() -> str:
    info = PngInfo()
    info.add_text("comment", "[moderate]")
    return base64.b64encode(encode(product_photo(), "PNG", pnginfo=info)).decode()


def test_input_moderation_is_on_by_default_for_fibo_only(http: httpx.Client) -> None:
    image = _flagged_image()
    fibo = http.post("/v2/image/edit", json={"images": [image], "instruction": "x", "sync": True})
    assert "images[0]" in error_of(fibo, 422)["details"]
    assert run_sync(http, "/v2/image/edit/remove_background", {"image": image})["image_url"]
    asked = {"image": image, "visual_input_content_moderation": True, "sync": True}
    error_of(http.post("/v2/image/edit/remove_background", json=asked), 422)
    off = {"images": [image], "instruction": "x", "visual_input_content_moderation": False}
    assert run_sync(http, "/v2/image/edit", off)["image_url"]


def test_v1_content_moderation_checks_the_input(http: httpx.Client) -> None:
    body = {"file": _flagged_image(), "content_moderation": True}
    assert "file" in error_of(http.post("/v1/product/cutout", json=body), 422)["details"]
    assert http.post("/v1/product/cutout", json={"file": _flagged_image()}).status_code == 200


def test_ip_signal_also_reads_edit_instructions(http: httpx.Client) -> None:
    body = {"images": [b64(product_photo())], "instruction": "add pikachu", "ip_signal": True}
    answer = http.post("/v2/image/edit", json=body)
    assert answer.status_code == 202 and answer.json()["warning"]


def test_increase_resolution_refuses_results_beyond_8192_squared(http: httpx.Client) -> None:
    large = encode(Image.new("RGB", (2100, 2100), (200, 200, 200)), "JPEG", quality=30)
    body = {"image": base64.b64encode(large).decode(), "desired_increase": 4, "sync": True}
    answer = http.post("/v2/image/edit/increase_resolution", json=body)
    assert "desired_increase" in error_of(answer, 400)["details"]


def test_enhance_stays_within_its_output_limit(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_edit, "MAX_ENHANCED_PIXELS", 10_000)  # 10 MP, scaled down for speed
    status = run_async(http, "/v2/image/edit/enhance", {"image": b64(product_photo((100, 100)))})
    width, height = open_url(status["result"]["image_url"]).size
    assert width * height <= 10_000 and width == height


def test_generated_pictures_carry_the_prompt_in_small_print() -> None:
    image = draw.generate("a purple bottle", 3, (176, 176))
    strip = image.crop((0, 160, 176, 176))
    assert len(strip.getcolors(4096) or []) > 3  # text pixels, not a plain background
    assert draw.subject_mask(image).crop((0, 160, 176, 176)).getbbox() is None


def test_checkpoints_can_be_read_and_deleted(http: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.configure(training_seconds=0.0)
    model = _model(http, _completed_dataset(http)["id"], mode="expert")
    params = {"total_training_steps": 600, "checkpoint_interval": 200}
    _ok(http.post(f"{T}/models/{model['id']}/start_training", json=params))
    url = f"{T}/models/{model['id']}/checkpoints"
    assert _ok(http.get(f"{url}/400"))["checkpoint_step"] == 400
    error_of(http.get(f"{url}/450"), 404)
    assert http.delete(f"{url}/400").status_code == 204
    steps = [c["checkpoint_step"] for c in _ok(http.get(url))["checkpoints"]]
    assert steps == [200, 600]


def _zip(images: dict[str, Image.Image]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, image in images.items():
            archive.writestr(name, encode(image))
        archive.writestr("notes.txt", "not an image")
    return buffer.getvalue()


def test_bulk_upload_unpacks_a_zip_once(http: httpx.Client) -> None:
    dataset = _dataset(http, upload_type="advanced")
    images = {f"set/hero_{i}.png": product_photo((300, 300)) for i in range(3)}
    images["tiny.png"] = product_photo((64, 64))
    hosted = http.post(
        "/_emulator/files",
        params={"content_type": "application/zip", "ext": "zip"},
        content=_zip(images),
    ).json()["url"]
    url = f"{T}/datasets/{dataset['id']}/images/bulk-upload"
    assert _ok(http.post(url, json={"zip_url": hosted}), 202) == {"status": "pending"}
    report = _ok(http.get(f"{url}/status"))
    assert report["status"] == "completed" and report["done"] == 3 and report["failed"] == 1
    assert report["failed_images"][0]["filename"] == "tiny.png"
    assert report["failed_images"][0]["error_code"] == 412
    listed = _ok(http.get(f"{T}/datasets/{dataset['id']}/images"))
    assert sorted(i["image_name"] for i in listed) == ["hero_0.png", "hero_1.png", "hero_2.png"]
    error_of(http.post(url, json={"zip_url": hosted}), 409)
    assert "_bulk" not in _ok(http.get(f"{T}/datasets/{dataset['id']}"))


def test_a_broken_zip_fails_the_bulk_job(http: httpx.Client) -> None:
    dataset = _dataset(http, upload_type="advanced")
    hosted = http.post("/_emulator/files", params={"ext": "zip"}, content=b"not a zip").json()
    url = f"{T}/datasets/{dataset['id']}/images/bulk-upload"
    _ok(http.post(url, json={"zip_url": hosted["url"]}), 202)
    assert _ok(http.get(f"{url}/status"))["status"] == "failed"


def test_advanced_datasets_download_as_a_zip(http: httpx.Client) -> None:
    dataset = _dataset(http, upload_type="advanced")
    hosted = http.post(
        "/_emulator/files",
        params={"content_type": "application/zip", "ext": "zip"},
        content=_zip({"a.png": product_photo((300, 300))}),
    ).json()["url"]
    _ok(
        http.post(f"{T}/datasets/{dataset['id']}/images/bulk-upload", json={"zip_url": hosted}), 202
    )
    download = _ok(http.get(f"/v1/datasets/{dataset['id']}/download"))
    archive = zipfile.ZipFile(io.BytesIO(fetch(download["download_url"])))
    assert archive.namelist() == ["a.png"]
    assert json.loads(fetch(download["captions_url"])) == {"a.png": None}
    basic = _dataset(http)
    error_of(http.get(f"/v1/datasets/{basic['id']}/download"), 409)


@pytest.mark.parametrize(
    ("path", "body", "missing"),
    [
        ("/v2/image/generate/tailored", {"prompt": "a hero"}, 403),
        ("/v2/structured_prompt/generate/tailored", {"prompt": "a hero"}, 403),
        ("/v2/video/generate/tailored/image-to-video", {"image": "IMAGE"}, 404),
    ],
)
def test_tailored_generation_needs_a_trained_model_of_the_organization(
    http: httpx.Client, emulator: EmulatorServer, path: str, body: dict[str, str], missing: int
) -> None:
    body = {k: b64(product_photo()) if v == "IMAGE" else v for k, v in body.items()}
    unknown = run_async(http, path, {**body, "tailored_model_id": "999"})
    assert unknown["status"] == "ERROR" and unknown["error"]["code"] == missing
    assert "tailored_model_id" in unknown["error"]["details"]
    emulator.state.configure(training_seconds=60)
    untrained = _model(http, _completed_dataset(http)["id"])
    waiting = run_async(http, path, {**body, "tailored_model_id": str(untrained["id"])})
    assert waiting["status"] == "ERROR" and waiting["error"]["code"] == 409
    trained = _trained_model(http, emulator)
    done = run_async(http, path, {**body, "tailored_model_id": str(trained["id"])})
    assert done["status"] == "COMPLETED", done

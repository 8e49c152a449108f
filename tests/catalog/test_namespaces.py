"""The grouped client methods, sync and async, against a real loopback server."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from bria_dagster.client import JobResult, Submission
from bria_dagster.client.catalog.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.catalog.responses import (
    AdsResult,
    Brand,
    ProductShotsResult,
    TemplateDetail,
    VehicleParts,
)
from bria_dagster.client.errors import BriaInputError, NotFoundError

from .conftest import AsyncCatalogClient, CatalogClient
from .examples import IMG, VID
from .fake_bria import FakeBria


def png_file(tmp_path: Path) -> tuple[Path, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (1, 2, 3)).save(buffer, format="PNG")
    path = tmp_path / "input.png"
    path.write_bytes(buffer.getvalue())
    return path, base64.b64encode(buffer.getvalue()).decode()


def test_a_job_runs_with_sync_where_allowed(client: CatalogClient, fake: FakeBria) -> None:
    result = client.edit.remove_background(image=IMG, preserve_alpha=False)
    assert isinstance(result, JobResult)
    assert result.image_url and result.image_url.startswith(fake.url)
    assert result.seed == 123
    posts = fake.requests("POST")
    assert [p.json for p in posts] == [{"image": IMG, "preserve_alpha": False, "sync": True}]


def test_submit_returns_at_once_with_the_webhook(client: CatalogClient, fake: FakeBria) -> None:
    hook = "https://hooks.example.com/bria"
    submission = client.edit.blur_background.submit(image=IMG, scale=2, webhook_url=hook)
    assert isinstance(submission, Submission)
    assert submission.endpoint == "/v2/image/edit/blur_background"
    assert fake.requests("POST")[0].json == {
        "image": IMG,
        "scale": 2,
        "sync": False,
        "webhook_url": hook,
    }
    assert fake.requests("GET") == []
    assert client.wait(submission).image_url


def test_async_only_jobs_are_submitted_and_polled(client: CatalogClient, fake: FakeBria) -> None:
    result = client.video.remove_background(video=VID, background_color="Transparent")
    assert result.video_url
    assert fake.requests("POST")[0].json["sync"] is False
    assert fake.requests("GET", "/v2/status/")


def test_a_request_object_and_a_local_file(
    client: CatalogClient, fake: FakeBria, tmp_path: Path
) -> None:
    path, encoded = png_file(tmp_path)
    client.edit.expand(ExpandRequest(image=path, aspect_ratio=1.5))
    assert fake.requests("POST")[0].json == {"image": encoded, "aspect_ratio": 1.5, "sync": True}
    # Keyword fields override a given request.
    client.edit.remove_background(RemoveBackgroundRequest(image=IMG), preserve_alpha=True)
    assert fake.requests("POST")[1].json["preserve_alpha"] is True


def test_ip_signal_warning_is_on_the_result_and_logged(
    client: CatalogClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bria_dagster.client.catalog"):
        result = client.image.generate(prompt="a famous mouse", ip_signal=True)
        later = client.edit.enhance(image=IMG)
    assert result.warning == "The prompt may reference protected IP"
    assert later.warning is None
    assert [r.getMessage() for r in caplog.records] == [
        "/v2/image/generate: The prompt may reference protected IP"
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.edit.remove_background(imag=IMG), "imag"),
        (lambda c: c.edit.remove_background(image=IMG, sync=True), "sync"),
        (
            lambda c: c.edit.remove_background.submit(image=IMG, webhook_url="ftp://x"),
            "webhook_url",
        ),
        (lambda c: c.edit.by_text(images=[b"\x00not an image"], instruction="x"), "images[0]"),
        (lambda c: c.edit.remove_background(ExpandRequest(image=IMG, aspect_ratio=2.0)), "request"),
        (lambda c: c.product.packshot(image_url=IMG, background_color="blue"), "background_color"),
        (lambda c: c.tailored.projects.get(0), "project_id"),
        (lambda c: c.tailored.images.update_caption(1, "x", caption="{}"), "image_id"),
        (lambda c: c.tailored.datasets.get(1, max_images=500), "max_images"),
        (lambda c: c.tailored.models.start_training(3, rank=2), "rank"),
        (lambda c: c.video.upload(b"", media_type="video/mp4"), "video"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    client: CatalogClient, fake: FakeBria, call: object, field: str
) -> None:
    with pytest.raises(BriaInputError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.field == field
    assert fake.requests() == []


def test_v1_product_calls_return_typed_answers(client: CatalogClient, fake: FakeBria) -> None:
    cutout = client.product.cutout_v1(image_url=IMG)
    assert cutout.image_url == f"{fake.url}/files/p.png"
    shots = client.product.lifestyle_shot_by_text(image_url=IMG, scene_description="a kitchen")
    assert isinstance(shots, ProductShotsResult)
    assert shots.urls == [f"{fake.url}/files/shot.png"]
    assert shots.shots[0].seed == 42 and shots.shots[1].blocked
    automatic = client.product.lifestyle_shot_by_image(
        image_url=IMG, ref_image_urls=IMG, placement_type="automatic"
    )
    assert automatic.shots
    sent = [p.json for p in fake.requests("POST")]
    assert sent[1]["sync"] is True  # v1 sends sync explicitly...
    assert sent[2]["sync"] is False  # ...false where automatic placement requires it
    parts = client.product.vehicle.segment(image_url=IMG)
    assert isinstance(parts, VehicleParts) and parts.tires == ""
    effect = client.product.vehicle.apply_effect(image_url=IMG, effect="snow")
    assert effect.image_url == f"{fake.url}/files/car.png" and effect.seed == 5


def test_ads_calls(client: CatalogClient, fake: FakeBria) -> None:
    ads = client.ads.generate(
        template_id=1061, elements=[{"content_type": "Heading #1", "content": "Sale"}]
    )
    assert isinstance(ads, AdsResult) and ads.ads[0].url == f"{fake.url}/files/ad.png"
    assert fake.requests("POST")[0].json["template_id"] == "1061"
    assert client.ads.brands() == [Brand(id=120, name="Brand")]
    assert client.ads.templates()[0].number_of_ads == 2
    detail = client.ads.template(1061)
    assert isinstance(detail, TemplateDetail)
    assert detail.scenes["scene_1"][0].content_type == "Heading #1"
    resized = client.ads.resize(
        attachments=[IMG], formats=[{"name": "story", "width": 1080, "height": 1920}]
    )
    assert resized.raw["results"] == []


def test_video_upload_goes_to_the_presigned_url_without_the_token(
    client: CatalogClient, fake: FakeBria, tmp_path: Path, token: str
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    upload = client.video.upload(clip)
    assert upload.file_url == f"{fake.url}/files/v.mp4"
    assert fake.requests("POST", "/v2/video/upload")[0].json == {"media_type": "video/mp4"}
    (target,) = fake.requests("POST", "/upload")
    assert [name for name, _ in target.form] == ["key", "policy", "x-amz-signature", "file"]
    assert "api_token" not in target.headers
    assert token not in str(target.headers)


def test_tailored_management_calls(client: CatalogClient, fake: FakeBria) -> None:
    tailored = client.tailored
    project = tailored.projects.create(
        project_name="Mascot",
        ip_type="defined_character",
        ip_medium="illustration",
        ip_name="Lora",
        ip_description="a girl with purple hair",
    )
    assert tailored.projects.get(project.id).ip_name == "Lora"
    assert (
        tailored.projects.update(project.id, project_description="ours").project_description
        == "ours"
    )
    dataset = tailored.datasets.create(project_id=project.id, name="v1")
    assert dataset.status == "draft"
    schema = tailored.generate_visual_schema(images=[IMG] * 5)
    tailored.datasets.update(dataset.id, visual_schema=schema)
    images = [
        tailored.images.upload(dataset.id, image_url=IMG, image_name=f"{i}.png") for i in range(5)
    ]
    assert images[0].caption == '{"auto": true}'
    assert len(tailored.images.list(dataset.id)) == 5
    edited = tailored.images.update_caption(dataset.id, images[0].id, caption={"hair": "purple"})
    assert edited.caption == '{"hair": "purple"}' and edited.caption_source == "manual"
    tailored.images.delete(dataset.id, images[4].id)
    tailored.images.upload(dataset.id, image_url=IMG, image_name="4.png")
    assert tailored.datasets.update(dataset.id, status="completed").is_completed
    assert [d.id for d in tailored.projects.datasets(project.id)] == [dataset.id]
    model = tailored.models.create(name="m", dataset_id=dataset.id, training_mode="expert")
    started = tailored.models.start_training(model.id, rank=64, learning_rate=0.0002)
    assert started.status == "InProgress"
    assert fake.requests("POST", f"/v1/tailored-gen/models/{model.id}/start_training")[0].json == {
        "rank": 64,
        "learning_rate": 0.0002,
    }
    assert tailored.models.wait_until_trained(model.id, poll_interval=0.01).is_trained
    assert tailored.models.checkpoints(model.id).checkpoints[0].checkpoint_step == 500
    assert tailored.models.download(model.id).download_url
    assert [m.id for m in tailored.projects.models(project.id)] == [model.id]
    generated = tailored.generate(tailored_model_id=model.id, prompt="Lora on a bike")
    assert generated.image_url
    with pytest.raises(NotFoundError):
        tailored.projects.get(9999)


async def test_the_async_client_has_the_same_methods(
    aclient: AsyncCatalogClient, fake: FakeBria
) -> None:
    result = await aclient.edit.remove_background(image=IMG)
    assert result.image_url
    submission = await aclient.edit.gen_fill.submit(image=IMG, mask=IMG, prompt="a cherry")
    assert (await aclient.wait(submission)).image_url
    project = await aclient.tailored.projects.create(
        project_name="Icons", ip_type="icons", ip_medium="illustration"
    )
    assert [p.id for p in await aclient.tailored.projects.list()] == [project.id]
    shots = await aclient.product.lifestyle_shot_by_text(image_url=IMG, scene_description="x")
    assert shots.urls


async def test_async_bad_input_raises_at_call_time(
    aclient: AsyncCatalogClient, fake: FakeBria
) -> None:
    with pytest.raises(BriaInputError):
        aclient.edit.remove_background(image=IMG, scale=3)  # raises before any await
    with pytest.raises(BriaInputError):
        aclient.tailored.projects.get(-1)
    assert fake.requests() == []

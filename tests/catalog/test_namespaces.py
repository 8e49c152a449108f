"""The grouped client methods, sync and async, against the emulator over loopback HTTP."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import logging
from pathlib import Path

import pytest
from PIL import Image

from bria_dagster.client import JobResult, Submission
from bria_dagster.client.errors import BriaInputError, NotFoundError
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.responses import (
    AdsResult,
    ProductShotsResult,
    TemplateDetail,
    VehicleParts,
)
from bria_dagster.emulator import EmulatorServer, FaultRule, RecordedRequest
from bria_dagster.emulator.ratelimit import token_hash

from .conftest import AsyncCatalogClient, CatalogClient
from .examples import IMG

HOOK = "http://127.0.0.1:9/bria"
"""A webhook URL nobody listens at (the emulator's delivery fails at once, off the test's path)."""


def png_file(tmp_path: Path) -> tuple[Path, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (1, 2, 3)).save(buffer, format="PNG")
    path = tmp_path / "input.png"
    path.write_bytes(buffer.getvalue())
    return path, base64.b64encode(buffer.getvalue()).decode()


def posts(emulator: EmulatorServer, path: str = "/v*") -> list[RecordedRequest]:
    """The API POSTs the emulator received, oldest first."""
    return emulator.requests(method="POST", path=path)


def job_seed(emulator: EmulatorServer, request_id: str) -> int:
    job = emulator.state.jobs.get(request_id)
    assert job is not None
    return job.seed


def test_a_job_runs_with_sync_where_allowed(
    client: CatalogClient, emulator: EmulatorServer, img: str
) -> None:
    result = client.edit.remove_background(image=img, preserve_alpha=False)
    assert isinstance(result, JobResult)
    assert result.image_url and result.image_url.startswith(emulator.base_url)
    assert result.seed == job_seed(emulator, result.request_id)
    assert [p.json for p in posts(emulator)] == [
        {"image": img, "preserve_alpha": False, "sync": True}
    ]


def test_submit_returns_at_once_with_the_webhook(
    client: CatalogClient, emulator: EmulatorServer, img: str
) -> None:
    submission = client.edit.blur_background.submit(image=img, scale=2, webhook_url=HOOK)
    assert isinstance(submission, Submission)
    assert submission.endpoint == "/v2/image/edit/blur_background"
    assert posts(emulator)[0].json == {
        "image": img,
        "scale": 2,
        "sync": False,
        "webhook_url": HOOK,
    }
    assert emulator.requests(method="GET", path="/v*") == []
    assert client.wait(submission).image_url


def test_async_only_jobs_are_submitted_and_polled(
    client: CatalogClient, emulator: EmulatorServer, vid: str
) -> None:
    result = client.video.remove_background(video=vid, background_color="Transparent")
    assert result.video_url
    assert posts(emulator)[0].json["sync"] is False
    assert emulator.requests(method="GET", path="/v2/status/*")


def test_a_request_object_and_a_local_file(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path, img: str
) -> None:
    path, encoded = png_file(tmp_path)
    client.edit.expand(ExpandRequest(image=path, aspect_ratio=1.5))
    assert posts(emulator)[0].json == {"image": encoded, "aspect_ratio": 1.5, "sync": True}
    # Keyword fields override a given request.
    client.edit.remove_background(RemoveBackgroundRequest(image=img), preserve_alpha=True)
    assert posts(emulator)[1].json["preserve_alpha"] is True


def test_ip_signal_warning_is_on_the_result_and_logged(
    client: CatalogClient, caplog: pytest.LogCaptureFixture, img: str
) -> None:
    warning = "The prompt may refer to protected intellectual property"
    with caplog.at_level(logging.WARNING, logger="bria_dagster.client.catalog"):
        result = client.image.generate(prompt="mickey mouse on a bike", ip_signal=True)
        later = client.edit.enhance(image=img)
    assert result.warning == warning
    assert later.warning is None
    assert [r.getMessage() for r in caplog.records] == [f"/v2/image/generate: {warning}"]


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
    client: CatalogClient, emulator: EmulatorServer, call: object, field: str
) -> None:
    with pytest.raises(BriaInputError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.field == field
    assert emulator.requests() == []


def test_v1_product_calls_return_typed_answers(
    client: CatalogClient, emulator: EmulatorServer, img: str
) -> None:
    cutout = client.product.cutout_v1(image_url=img)
    assert cutout.image_url and cutout.image_url.startswith(f"{emulator.base_url}/files/")
    shots = client.product.lifestyle_shot_by_text(image_url=img, scene_description="a kitchen")
    assert isinstance(shots, ProductShotsResult)
    assert len(shots.urls) == 4 and all(u.startswith(emulator.base_url) for u in shots.urls)
    assert all(shot.seed is not None and not shot.blocked for shot in shots.shots)
    automatic = client.product.lifestyle_shot_by_image(
        image_url=img, ref_image_urls=img, placement_type="automatic"
    )
    assert automatic.shots
    sent = [p.json for p in posts(emulator)]
    assert sent[1]["sync"] is True  # v1 sends sync explicitly...
    assert sent[2]["sync"] is False  # ...false where automatic placement requires it
    parts = client.product.vehicle.segment(image_url=img)
    assert isinstance(parts, VehicleParts) and parts.tires == "" and parts.body
    effect = client.product.vehicle.apply_effect(image_url=img, effect="snow", seed=5)
    assert effect.image_url and effect.image_url.startswith(emulator.base_url)
    assert effect.seed == 5


def test_a_blocked_shot_is_reported_as_blocked(
    client: CatalogClient, emulator: EmulatorServer, img: str
) -> None:
    # Bria answers a moderated shot as three "key:value" strings in place of [url, seed, id].
    answer = {
        "result": [
            [img, "42", "s1"],
            ["blocked:true", "error_code:422", "description:moderated"],
        ]
    }
    emulator.state.configure(
        faults=[FaultRule(kind="respond", status_code=200, body=answer, count=1)]
    )
    shots = client.product.lifestyle_shot_by_text(image_url=img, scene_description="a kitchen")
    assert shots.urls == [img]
    assert shots.shots[0].seed == 42 and shots.shots[1].blocked


def test_ads_calls(client: CatalogClient, emulator: EmulatorServer, img: str) -> None:
    ads = client.ads.generate(
        template_id=1061, elements=[{"content_type": "Heading #1", "content": "Sale"}]
    )
    assert isinstance(ads, AdsResult) and ads.ads[0].url.startswith(emulator.base_url)
    assert posts(emulator)[0].json["template_id"] == "1061"
    brands = client.ads.brands()
    assert [(b.id, b.name) for b in brands][-1] == (120, "Public brand 120")
    assert client.ads.templates()[0].number_of_ads == 1
    detail = client.ads.template(1061)
    assert isinstance(detail, TemplateDetail)
    assert detail.scenes["scene_1"][0].content_type == "Heading #1"
    resized = client.ads.resize(
        attachments=[img], formats=[{"name": "story", "width": 108, "height": 192}]
    )
    assert [(r["name"], r["width"], r["height"]) for r in resized.raw["results"]] == [
        ("story", 108, 192)
    ]


def test_video_upload_goes_to_the_presigned_url_without_the_token(
    client: CatalogClient, emulator: EmulatorServer, tmp_path: Path, token: str
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    upload = client.video.upload(clip)
    assert upload.file_url.startswith(f"{emulator.base_url}/_emulator/uploads/")
    [grant] = emulator.requests(method="POST", path="/v2/video/upload")
    assert grant.json == {"media_type": "video/mp4"} and grant.token == token_hash(token)
    (target,) = emulator.requests(method="POST", path="/_emulator/uploads/*")
    head = f"Content-Type: {target.headers['content-type']}\r\n\r\n".encode()
    form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + target.body)
    names = [part.get_param("name", header="content-disposition") for part in form.iter_parts()]
    assert names == ["key", "policy", "file"]  # the granted fields, then the file
    assert target.token is None and target.status == 204
    assert token not in str(target.headers)


def test_tailored_management_calls(
    client: CatalogClient, emulator: EmulatorServer, img: str
) -> None:
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
    schema = tailored.generate_visual_schema(images=[img] * 5)
    tailored.datasets.update(dataset.id, visual_schema=schema)
    images = [
        tailored.images.upload(dataset.id, image_url=img, image_name=f"{i}.png") for i in range(5)
    ]
    assert images[0].caption and images[0].caption_source == "automatic"
    assert len(tailored.images.list(dataset.id)) == 5
    edited = tailored.images.update_caption(dataset.id, images[0].id, caption={"hair": "purple"})
    assert edited.caption == '{"hair": "purple"}' and edited.caption_source == "manual"
    tailored.images.delete(dataset.id, images[4].id)
    tailored.images.upload(dataset.id, image_url=img, image_name="4.png")
    assert tailored.datasets.update(dataset.id, status="completed").is_completed
    assert [d.id for d in tailored.projects.datasets(project.id)] == [dataset.id]
    model = tailored.models.create(name="m", dataset_id=dataset.id, training_mode="expert")
    started = tailored.models.start_training(model.id, rank=64, learning_rate=0.0002)
    assert started.status == "InProgress"
    [start] = posts(emulator, f"/v1/tailored-gen/models/{model.id}/start_training")
    assert start.json == {"rank": 64, "learning_rate": 0.0002}
    assert tailored.models.wait_until_trained(model.id, poll_interval=0.01).is_trained
    assert tailored.models.checkpoints(model.id).checkpoints[0].checkpoint_step == 500
    assert tailored.models.download(model.id).download_url
    assert [m.id for m in tailored.projects.models(project.id)] == [model.id]
    generated = tailored.generate(tailored_model_id=model.id, prompt="Lora on a bike")
    assert generated.image_url
    with pytest.raises(NotFoundError):
        tailored.projects.get(9999)


async def test_the_async_client_has_the_same_methods(
    aclient: AsyncCatalogClient, emulator: EmulatorServer, img: str
) -> None:
    result = await aclient.edit.remove_background(image=img)
    assert result.image_url
    submission = await aclient.edit.gen_fill.submit(image=img, mask=img, prompt="a cherry")
    assert (await aclient.wait(submission)).image_url
    project = await aclient.tailored.projects.create(
        project_name="Icons", ip_type="icons", ip_medium="illustration"
    )
    assert [p.id for p in await aclient.tailored.projects.list()] == [project.id]
    shots = await aclient.product.lifestyle_shot_by_text(image_url=img, scene_description="x")
    assert shots.urls


async def test_async_bad_input_raises_at_call_time(
    aclient: AsyncCatalogClient, emulator: EmulatorServer
) -> None:
    with pytest.raises(BriaInputError):
        aclient.edit.remove_background(image=IMG, scale=3)  # raises before any await
    with pytest.raises(BriaInputError):
        aclient.tailored.projects.get(-1)
    assert emulator.requests() == []

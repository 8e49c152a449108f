"""The tailored-training workflow as one resumable plan (``client.tailored.train_model``).

projects → dataset → visual schema → images → complete dataset → model → start training →
wait. Every step first looks for what an earlier, interrupted run already made (project,
dataset and model by the id a :class:`~bria_dagster.client.types.tailored.CreationLog` recorded,
else by name; images by ``image_name``) and only does what is missing, so a rerun never
duplicates objects or uploads.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from bria_dagster.client.catalog.binding import api_call, build_request
from bria_dagster.client.catalog.effects import Plan, Sleep
from bria_dagster.client.errors import (
    BriaAPIError,
    BriaInputError,
    JobFailedError,
    WaitTimeoutError,
)
from bria_dagster.client.types import tailored as req
from bria_dagster.client.types.fields import ImageValue
from bria_dagster.client.types.responses import (
    Dataset,
    DatasetImage,
    Project,
    TailoredModel,
    TrainingOutcome,
    field_of,
)

logger = logging.getLogger("bria_dagster.client.catalog")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
SCHEMA_SAMPLE = 10
"""How many of the images (the first ones) describe the visual schema (Bria takes 5-10)."""

_TG = "/v1/tailored-gen"
_Obj = TypeVar("_Obj", Project, Dataset, TailoredModel)


class TrainingFailedError(JobFailedError):
    """Training ended ``Failed`` or ``Stopped``; it cannot be resumed (train a new model)."""

    def __init__(self, model: TailoredModel) -> None:
        self.model = model
        super().__init__(
            f"tailored-model-{model.id}",
            str(model.status),
            message=f"tailored model {model.id} ({model.name}) ended {model.status}",
        )


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _name_of(value: Any, index: int) -> str:
    if isinstance(value, os.PathLike):
        return Path(value).name
    if _is_url(value):
        name = Path(unquote(urlparse(value).path)).name
        return name or f"image_{index:03d}"
    if isinstance(value, str) and len(value) < 1024 and Path(value).is_file():
        return Path(value).name
    return f"image_{index:03d}"


def collect_images(images: req.ImageSource) -> list[tuple[str, ImageValue]]:
    """``(image_name, image)`` pairs from a folder, a list or a name→image mapping (checked)."""
    if isinstance(images, str | os.PathLike) and not _is_url(images):
        folder = Path(images)
        if not folder.is_dir():
            raise BriaInputError("images", f"not a folder: {folder}")
        items: list[tuple[str, ImageValue]] = [
            (path.name, path)
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
        ]
    elif isinstance(images, Mapping):
        items = [(str(name), value) for name, value in images.items()]
    elif isinstance(images, Sequence) and not isinstance(images, str | bytes):
        items = [(_name_of(value, i), value) for i, value in enumerate(images)]
    else:
        raise BriaInputError("images", "give a folder, a list of images or a {name: image} map")
    if not req.MIN_DATASET_IMAGES <= len(items) <= req.MAX_BASIC_IMAGES:
        raise BriaInputError(
            "images",
            f"need {req.MIN_DATASET_IMAGES}-{req.MAX_BASIC_IMAGES} images, got {len(items)}",
        )
    seen: set[str] = set()
    for name, value in items:
        if not name.strip():
            raise BriaInputError("images", "every image needs a non-blank name")
        if name in seen:
            raise BriaInputError(f"images[{name}]", "duplicate image name")
        seen.add(name)
        if isinstance(value, os.PathLike) and not Path(value).is_file():
            raise BriaInputError(f"images[{name}]", f"no such file: {value}")
    return items


def _pick(objects: list[_Obj], attribute: str, value: Any) -> _Obj | None:
    matches = [obj for obj in objects if getattr(obj, attribute) == value]
    return min(matches, key=lambda obj: obj.id) if matches else None


def _find(
    objects: list[_Obj],
    log: req.CreationLog | None,
    kind: req.CreationKind,
    attribute: str,
    value: Any,
) -> _Obj | None:
    """The object the log recorded for ``kind``, else the one named ``value``; a found one is
    recorded (an earlier run may have made it and died before recording its id)."""
    known = log.known(kind) if log is not None else None
    found = _pick(objects, "id", known) if known is not None else None
    found = found or _pick(objects, attribute, value)
    if found is not None and log is not None:
        log.after(kind, found.id, found.model_dump(mode="json"))
    return found


def _create(
    log: req.CreationLog | None,
    kind: req.CreationKind,
    path: str,
    payload: dict[str, Any],
    summary: dict[str, Any] | None = None,
    **path_args: Any,
) -> Plan[Any]:
    """POST ``payload`` to ``path``, recorded in ``log`` before it leaves and after it answers."""
    if log is not None:
        log.before(kind, summary if summary is not None else payload)
    body = yield api_call("POST", path, json=payload, **path_args)
    if log is not None:
        answer = body if isinstance(body, dict) else {}
        object_id = path_args.get("model_id", answer.get("id"))
        if not isinstance(object_id, int):
            raise BriaAPIError(f"unexpected answer to POST {path}: no integer 'id'")
        log.after(kind, object_id, answer)
    return body


def _require_text(field: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise BriaInputError(field, "must be a non-blank string")


def wait_for_training(
    model_id: int, poll_interval: float, timeout: float | None
) -> Plan[TailoredModel]:
    """Poll a model until it is Completed (raise on Failed/Stopped or after ``timeout``)."""
    if not poll_interval > 0:
        raise BriaInputError("poll_interval", "must be positive")
    if timeout is not None and timeout < 0:
        raise BriaInputError("timeout", "must not be negative")
    started = time.monotonic()
    while True:
        body = yield api_call("GET", f"{_TG}/models/{{model_id}}", model_id=model_id)
        model = TailoredModel.model_validate(body)
        if model.status == "Completed":
            return model
        if model.status in ("Failed", "Stopped"):
            raise TrainingFailedError(model)
        waited = time.monotonic() - started
        if timeout is not None and waited + poll_interval > timeout:
            raise WaitTimeoutError(f"tailored-model-{model_id}", waited)
        yield Sleep(poll_interval)


def _captions_ready(dataset_id: int, poll_interval: float) -> Plan[Dataset]:
    yield api_call("PUT", f"{_TG}/datasets/{{dataset_id}}/images", dataset_id=dataset_id)
    while True:
        body = yield api_call("GET", f"{_TG}/datasets/{{dataset_id}}", dataset_id=dataset_id)
        dataset = Dataset.model_validate(body)
        if dataset.captions_update_status in (None, "completed"):
            return dataset
        yield Sleep(min(poll_interval, 10.0))


def train_model_plan(request: req.TrainModelRequest) -> Plan[TrainingOutcome]:
    """The plan behind ``client.tailored.train_model`` (see its docstring)."""
    # Every input is checked before the first request.
    project_request = req.CreateProjectRequest.parse(
        project_name=request.project_name,
        ip_type=request.ip_type,
        ip_medium=request.ip_medium,
        ip_name=request.ip_name,
        ip_description=request.ip_description,
        project_description=request.project_description,
    )
    _require_text("dataset_name", request.dataset_name)
    _require_text("model_name", request.model_name)
    model_request = req.CreateModelRequest.parse(
        name=request.model_name,
        dataset_id=1,
        training_mode=request.training_mode,
        description=request.model_description,
    )
    training = build_request(req.StartTrainingRequest, request.training_parameters, {})
    if not training.is_default and request.training_mode != "expert":
        raise BriaInputError("training_parameters", "need training_mode 'expert'")
    if not request.poll_interval > 0:
        raise BriaInputError("poll_interval", "must be positive")
    items = collect_images(request.images)
    uploads = {
        name: req.UploadImageRequest.parse(
            image_url=value if _is_url(value) else None,
            file=None if _is_url(value) else value,
            image_name=name,
            increase_resolution=request.increase_resolution,
            content_moderation=request.content_moderation,
        )
        for name, value in items
    }
    schema_request = req.GenerateVisualSchemaRequest.parse(
        images=[value for _, value in items[:SCHEMA_SAMPLE]],
        content_moderation=request.content_moderation,
    )
    log = request.creation_log
    # 1. The project, found by name or created.
    projects = [Project.model_validate(p) for p in (yield api_call("GET", f"{_TG}/projects"))]
    project = _find(projects, log, "project", "project_name", request.project_name)
    if project is None:
        payload = project_request.to_payload()
        project = Project.model_validate(
            (yield from _create(log, "project", f"{_TG}/projects", payload))
        )
    elif (project.ip_type, project.ip_medium) != (request.ip_type, request.ip_medium):
        raise BriaInputError(
            "project_name",
            f"project {project.id} of that name has ip_type={project.ip_type}, "
            f"ip_medium={project.ip_medium}; choose another name",
        )

    # 2. The dataset, found by name in the project or created.
    body = yield api_call("GET", f"{_TG}/projects/{{project_id}}/datasets", project_id=project.id)
    datasets = [Dataset.model_validate(d) for d in body or []]
    dataset = _find(datasets, log, "dataset", "name", request.dataset_name)
    if dataset is None:
        new_dataset = req.CreateDatasetRequest(project_id=project.id, name=request.dataset_name)
        created = yield from _create(log, "dataset", f"{_TG}/datasets", new_dataset.to_payload())
        dataset = Dataset.model_validate(created)
    elif dataset.upload_type == "advanced":
        raise BriaInputError("dataset_name", f"dataset {dataset.id} is an advanced (zip) dataset")
    body = yield api_call(
        "GET",
        f"{_TG}/datasets/{{dataset_id}}",
        params={"max_images": req.MAX_BASIC_IMAGES},
        dataset_id=dataset.id,
    )
    dataset = Dataset.model_validate(body)

    # 3-5. Schema, missing images, captions, completion (only while the dataset is a draft).
    present = {image.image_name for image in dataset.images}
    uploaded = 0
    if not dataset.is_completed:
        if dataset.visual_schema is None:
            schema = yield api_call(
                "POST", f"{_TG}/generate_visual_schema", json=schema_request.to_payload()
            )
            yield api_call(
                "PUT",
                f"{_TG}/datasets/{{dataset_id}}",
                json=req.UpdateDatasetRequest(
                    visual_schema=field_of("visual_schema")(schema)
                ).to_payload(),
                dataset_id=dataset.id,
            )
        for name, upload in uploads.items():
            if name in present:
                continue
            answer = yield api_call(
                "POST",
                f"{_TG}/datasets/{{dataset_id}}/images",
                json=upload.to_payload(),
                dataset_id=dataset.id,
            )
            DatasetImage.model_validate(answer)
            uploaded += 1
        uncaptioned = [
            image
            for image in dataset.images
            if image.caption is None and image.caption_source != "pending"
        ]
        if uncaptioned:  # uploaded before the schema existed (e.g. by hand)
            yield from _captions_ready(dataset.id, request.poll_interval)
        body = yield api_call(
            "PUT",
            f"{_TG}/datasets/{{dataset_id}}",
            json=req.UpdateDatasetRequest(status="completed").to_payload(),
            dataset_id=dataset.id,
        )
        dataset = Dataset.model_validate(body)
    else:
        missing = [name for name in uploads if name not in present]
        if missing:
            logger.warning(
                "dataset %s is already completed: %d image(s) not in it were not uploaded",
                dataset.id,
                len(missing),
            )

    # 6. The model, found by name (on this dataset) or created, and its training.
    body = yield api_call("GET", f"{_TG}/projects/{{project_id}}/models", project_id=project.id)
    models = [TailoredModel.model_validate(item) for item in body or []]
    on_dataset = [m for m in models if m.dataset_id == dataset.id]
    model = _find(on_dataset, log, "model", "name", request.model_name)
    if model is None:
        payload = model_request.model_copy(update={"dataset_id": dataset.id}).to_payload()
        created = yield from _create(log, "model", f"{_TG}/models", payload)
        model = TailoredModel.model_validate(created)
    if model.status in ("Failed", "Stopped"):
        raise TrainingFailedError(model)
    if model.status == "Created":
        started = yield from _create(
            log,
            "training",
            f"{_TG}/models/{{model_id}}/start_training",
            training.to_payload(),
            {"model_id": model.id, "dataset_id": dataset.id, "project_id": project.id},
            model_id=model.id,
        )
        model = TailoredModel.model_validate(started)
    elif log is not None:  # started by a run that died before recording it, or by hand
        log.after("training", model.id, model.model_dump(mode="json"))
    if request.wait and model.status != "Completed":
        model = yield from wait_for_training(model.id, request.poll_interval, request.timeout)
    return TrainingOutcome(
        project=project,
        dataset=dataset,
        model=model,
        images_uploaded=uploaded,
        images_skipped=len(uploads) - uploaded,
    )

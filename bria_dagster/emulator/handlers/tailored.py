"""The v1 tailored-generation workflow as a state machine, plus the other plain CRUD routes.

Projects → datasets (``draft`` → ``completed``, captions) → images → models (``Created`` →
``InProgress`` → ``Completed`` (``Failed`` under a ``training_failed`` fault) after
``config.training_seconds``; ``stop_training`` →
``Stopped``), with Bria's 201/204/409/412 rules (bria-api.md §5.3). Bodies are validated with
the client's catalog models. State lives in ``state.extensions`` and is cleared by a reset.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bria_dagster.client.catalog import OPERATIONS
from bria_dagster.client.errors import BriaInputError
from bria_dagster.emulator.bodies import read_json_object
from bria_dagster.emulator.envelope import error_response
from bria_dagster.emulator.errors import ApiError

Json = dict[str, Any]
MAX_BASIC_IMAGES = 200
MAX_BULK_IMAGES = 5000
MIN_COMPLETED_IMAGES = 5
BULK_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
START_TRAINING = "/v1/tailored-gen/models/{model_id}/start_training"
TRAINING_DEFAULTS: Json = {
    "lr_scheduler": "constant_with_warmup",
    "learning_rate": 1e-4,
    "total_training_steps": 750,
    "rank": 128,
    "checkpoint_interval": 500,
    "lr_warmup_steps": 100,
}


def _now_iso(clock: Callable[[], float]) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


@dataclass
class Tailored:
    """Everything the tailored workflow holds for the emulator's lifetime."""

    clock: Callable[[], float]
    training_seconds: Callable[[], float]
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    projects: dict[int, Json] = field(default_factory=dict)
    datasets: dict[int, Json] = field(default_factory=dict)
    images: dict[int, dict[int, Json]] = field(default_factory=dict)
    models: dict[int, Json] = field(default_factory=dict)

    def get(self, table: dict[int, Json], key: Any, what: str) -> Json:
        try:
            return table[int(key)]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found", f"{what} {key} not found") from None

    def model_view(self, model: Json) -> Json:
        """A model with its training status brought up to date (training ends by time)."""
        started = model.get("_started")
        done = started is not None and self.clock() - started >= self.training_seconds()
        if model["status"] == "InProgress" and done:
            model["status"] = "Failed" if model.get("_fails") else "Completed"
            model["updated_at"] = _now_iso(self.clock)
        return {k: v for k, v in model.items() if not k.startswith("_")}

    def training(self, dataset_id: int) -> bool:
        return any(
            m["dataset_id"] == dataset_id and self.model_view(m)["status"] == "InProgress"
            for m in self.models.values()
        )


def trained_model(extensions: dict[str, Any], model_id: object, missing: int = 403) -> Json:
    """The trained model a generation names. ApiError ``missing`` when there is no such model
    (Bria: 403 "not in your organization"; 404 for image-to-video), 409 before it is trained."""
    tailored = extensions.get("tailored")
    model = None
    if isinstance(tailored, Tailored) and str(model_id).isdigit():
        model = tailored.models.get(int(str(model_id)))
    if tailored is None or model is None:
        reason = "Forbidden" if missing == 403 else "Not Found"
        raise ApiError(
            missing, reason, f"tailored_model_id: no model {model_id} in this organization"
        )
    view = tailored.model_view(model)
    if view["status"] != "Completed":
        raise ApiError(
            409,
            "Conflict",
            f"tailored_model_id: model {model_id} is {view['status']}, not Completed",
        )
    return view


def tailored_of(state: Any) -> Tailored:
    """The tailored workflow state hung on the emulator state (made on first use)."""
    if "tailored" not in state.extensions:
        state.extensions["tailored"] = Tailored(
            clock=state.clock, training_seconds=lambda: state.config.training_seconds
        )
    tailored: Tailored = state.extensions["tailored"]
    return tailored


def _validated(method: str, template: str, body: Json) -> Json:
    spec = OPERATIONS.get((method, template))
    if spec is not None and spec.request_model is not None:
        try:
            spec.request_model.parse(body)
        except BriaInputError as exc:
            raise ApiError(400, "Invalid request", str(exc)) from None
    return body


Handler = Callable[[Tailored, Any, Request, Json], Awaitable[Response] | Response]


def _route(state: Any, method: str, path: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            body: Json = {}
            if method in ("POST", "PUT"):
                body = await read_json_object(request, state.config.max_body_bytes, empty=True)
                _validated(method, path, body)
            result = handler(tailored_of(state), state, request, body)
            return await result if isinstance(result, Awaitable) else result
        except ApiError as error:
            return error_response(error)
        except ValueError as exc:
            return error_response(ApiError(400, "Invalid JSON", str(exc)))

    return Route(path, endpoint, methods=[method])


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


# --- projects ---------------------------------------------------------------------------------


def create_project(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    pid = next(t.ids)
    project = {
        "id": pid,
        "project_name": body["project_name"],
        "project_description": body.get("project_description"),
        "ip_name": body.get("ip_name"),
        "ip_description": body.get("ip_description"),
        "ip_medium": body["ip_medium"],
        "ip_type": body["ip_type"],
        "training_version": "fibo",
        "status": "active",
        "created_at": _now_iso(t.clock),
        "updated_at": _now_iso(t.clock),
    }
    t.projects[pid] = project
    return _json(project, 201)


def update_project(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    project = t.get(t.projects, request.path_params["project_id"], "project")
    project.update({k: v for k, v in body.items() if v is not None})
    project["updated_at"] = _now_iso(t.clock)
    return _json(project)


def delete_project(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    project = t.get(t.projects, request.path_params["project_id"], "project")
    datasets = [d for d in t.datasets.values() if d["project_id"] == project["id"]]
    if any(t.training(d["id"]) for d in datasets):
        raise ApiError(409, "Conflict", "a model of this project is training")
    for dataset in datasets:
        t.datasets.pop(dataset["id"])
        t.images.pop(dataset["id"], None)
    for mid in [m["id"] for m in t.models.values() if m["project_id"] == project["id"]]:
        t.models.pop(mid)
    t.projects.pop(project["id"])
    return Response(status_code=204)


# --- datasets and images ----------------------------------------------------------------------


def _dataset_view(t: Tailored, dataset: Json, *, with_images: bool = False) -> Json:
    view = {k: v for k, v in dataset.items() if not k.startswith("_")}
    images = list(t.images.get(dataset["id"], {}).values())
    view["images_count"] = len(images)
    if with_images:
        view["images"] = images
    return view


def create_dataset(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    project = t.get(t.projects, body["project_id"], "project")
    did = next(t.ids)
    dataset = {
        "id": did,
        "project_id": project["id"],
        "name": body["name"],
        "visual_schema": None,
        "status": "draft",
        "captions_update_status": "empty",
        "upload_type": body.get("upload_type") or "basic",
        "created_at": _now_iso(t.clock),
        "updated_at": _now_iso(t.clock),
    }
    t.datasets[did] = dataset
    t.images[did] = {}
    return _json(_dataset_view(t, dataset), 201)


def update_dataset(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if body.get("visual_schema") is not None and dataset["status"] == "completed":
        raise ApiError(409, "Conflict", "visual_schema cannot change on a completed dataset")
    if body.get("status") == "completed":
        count = len(t.images[dataset["id"]])
        if count < MIN_COMPLETED_IMAGES:
            raise ApiError(
                409, "Conflict", f"a dataset needs {MIN_COMPLETED_IMAGES} images, has {count}"
            )
    for key in ("name", "visual_schema", "status"):
        if body.get(key) is not None:
            dataset[key] = body[key]
    if body.get("visual_schema") is not None:
        for image in t.images[dataset["id"]].values():
            image["caption"] = image["caption"] or _caption(image["image_name"])
            image["caption_source"] = "automatic"
        dataset["captions_update_status"] = "completed"
    dataset["updated_at"] = _now_iso(t.clock)
    return _json(_dataset_view(t, dataset))


def delete_dataset(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if t.training(dataset["id"]):
        raise ApiError(409, "Conflict", "a model is training on this dataset")
    t.datasets.pop(dataset["id"])
    t.images.pop(dataset["id"], None)
    return Response(status_code=204)


def clone_dataset(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    source = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    did = next(t.ids)
    clone = {
        **{k: v for k, v in source.items() if not k.startswith("_")},
        "id": did,
        "status": "draft",
        "name": body.get("name") or f"Copy of {source['name']}",
    }
    t.datasets[did] = clone
    t.images[did] = {k: {**v, "dataset_id": did} for k, v in t.images[source["id"]].items()}
    return _json(_dataset_view(t, clone, with_images=True), 201)


def _caption(name: str) -> str:
    return json.dumps({"short_description": f"an image named {name}"})


def upload_image(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if dataset["status"] == "completed":
        raise ApiError(409, "Conflict", "images cannot be added to a completed dataset")
    if dataset["upload_type"] != "basic":
        raise ApiError(409, "Conflict", "single uploads need a basic dataset")
    images = t.images[dataset["id"]]
    if len(images) >= MAX_BASIC_IMAGES:
        raise ApiError(409, "Conflict", f"a dataset holds at most {MAX_BASIC_IMAGES} images")
    from bria_dagster.emulator.inputs import load_bytes, open_image

    value = body.get("file") or body.get("image_url")
    field_name = "file" if body.get("file") else "image_url"
    image = open_image(load_bytes(state, value, field_name), field_name)
    _check_resolution(image, body.get("increase_resolution", True))
    record = _add_image(t, state, dataset, image, body.get("image_name"), body.get("image_url"))
    return _json(record, 201)


def _check_resolution(image: Any, upscale: bool) -> None:
    smallest = min(image.size)
    if smallest < 256 or (smallest < 1024 and not upscale):
        raise ApiError(412, "Precondition Failed", f"image resolution {image.size} is too low")


def _add_image(
    t: Tailored, state: Any, dataset: Json, image: Any, name: str | None, source: str | None
) -> Json:
    iid = next(t.ids)
    name = name or f"image_{iid}.png"
    url = state.store_bytes(draw_png(image), "image/png", "png", endpoint="/v1")
    record = {
        "id": iid,
        "dataset_id": dataset["id"],
        "caption": _caption(name) if dataset["visual_schema"] else None,
        "caption_source": "automatic" if dataset["visual_schema"] else "pending",
        "upload_source_url": source,
        "image_name": name,
        "image_url": url,
        "thumbnail_url": url,
        "created_at": _now_iso(t.clock),
        "updated_at": _now_iso(t.clock),
    }
    t.images[dataset["id"]][iid] = record
    return record


def draw_png(image: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def update_image(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    image = t.get(t.images[dataset["id"]], request.path_params["image_id"], "image")
    if dataset["status"] == "completed":
        raise ApiError(409, "Conflict", "captions of a completed dataset cannot change")
    if body.get("caption"):
        image.update(caption=body["caption"], caption_source="manual")
    else:
        image.update(caption=_caption(image["image_name"]), caption_source="automatic")
    return _json(image)


def delete_image(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if dataset["status"] == "completed":
        raise ApiError(409, "Conflict", "images of a completed dataset cannot be deleted")
    t.get(t.images[dataset["id"]], request.path_params["image_id"], "image")
    t.images[dataset["id"]].pop(int(request.path_params["image_id"]))
    return Response(status_code=204)


def regenerate_captions(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    for image in t.images[dataset["id"]].values():
        image.update(caption=_caption(image["image_name"]), caption_source="automatic")
    # Captions are made at once here; Bria reports in_progress and finishes later.
    dataset["captions_update_status"] = "completed"
    return _json({**_dataset_view(t, dataset), "captions_update_status": "in_progress"}, 202)


async def bulk_upload(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if dataset["upload_type"] != "advanced" or t.images[dataset["id"]] or "_bulk" in dataset:
        raise ApiError(409, "Conflict", "bulk upload needs an empty advanced dataset, once")
    dataset["_bulk"] = {"status": "processing", "progress_percentage": 0}
    try:
        dataset["_bulk"] = await asyncio.to_thread(_unzip_into, t, state, dataset, body["zip_url"])
    except ApiError as error:
        dataset["_bulk"] = _bulk_report("failed", 0, [], error.details or error.message)
    return _json({"status": "pending"}, 202)


def _bulk_report(status: str, done: int, failed: list[Json], error: str | None = None) -> Json:
    report: Json = {
        "status": status,
        "progress_percentage": 100,
        "total_processed": done + len(failed),
        "done": done,
        "failed": len(failed),
        "failed_images": failed,
    }
    if error:
        report["error"] = error
    return report


def _unzip_into(t: Tailored, state: Any, dataset: Json, zip_url: str) -> Json:
    """Add every image of the zip at ``zip_url`` to ``dataset``; report the ones refused."""
    from bria_dagster.emulator.inputs import load_bytes, open_image

    try:
        archive = zipfile.ZipFile(io.BytesIO(load_bytes(state, zip_url, "zip_url")))
    except zipfile.BadZipFile:
        return _bulk_report("failed", 0, [], "zip_url: not a zip archive")
    done, failed = 0, []
    names = [n for n in archive.namelist() if n.lower().endswith(BULK_IMAGE_SUFFIXES)]
    for name in sorted(names)[:MAX_BULK_IMAGES]:
        try:
            image = open_image(archive.read(name), name)
            _check_resolution(image, True)
        except ApiError as error:
            failed.append(
                {"filename": name, "error_code": error.status, "error_message": error.details}
            )
            continue
        _add_image(t, state, dataset, image, name.rsplit("/", 1)[-1], None)
        done += 1
    return _bulk_report("completed", done, failed)


def bulk_status(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if "_bulk" not in dataset:
        raise ApiError(404, "Not Found", "no bulk upload ran on this dataset")
    return _json(dataset["_bulk"])


def visual_schema(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    count = len(body["images"])
    if not 5 <= count <= 10:
        raise ApiError(400, "Invalid request", f"images: 5 to 10 images are needed, got {count}")
    schema = {"subject": "string", "style": "string", "background": "string"}
    return _json({"visual_schema": json.dumps(schema)})


def refine_structured_prompt(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, body["dataset_id"], "dataset")
    if dataset["status"] != "draft":
        raise ApiError(409, "Conflict", "the dataset must be a draft")
    prompt = (
        json.loads(body["structured_prompt"])
        if isinstance(body["structured_prompt"], str)
        else body["structured_prompt"]
    )
    prompt["edit_instruction"] = body["instruction"]
    return _json({"structured_prompt": json.dumps(prompt)})


# --- models -----------------------------------------------------------------------------------


def create_model(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    dataset = t.get(t.datasets, body["dataset_id"], "dataset")
    mid = next(t.ids)
    model = {
        "id": mid,
        "name": body["name"],
        "description": body.get("description"),
        "status": "Created",
        "training_mode": body.get("training_mode") or "fully_automated",
        "project_id": dataset["project_id"],
        "dataset_id": dataset["id"],
        "created_at": _now_iso(t.clock),
        "updated_at": _now_iso(t.clock),
        "active_model_version": "default",
        "training_parameters": {},
        "checkpoint_steps": [],
    }
    t.models[mid] = model
    return _json(t.model_view(model), 201)


def update_model(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.get(t.models, request.path_params["model_id"], "model")
    model.update({k: v for k, v in body.items() if v is not None})
    return _json(t.model_view(model))


def delete_model(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.get(t.models, request.path_params["model_id"], "model")
    if t.model_view(model)["status"] == "InProgress":
        raise ApiError(409, "Conflict", "the model is training")
    t.models.pop(model["id"])
    return Response(status_code=204)


def start_training(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.get(t.models, request.path_params["model_id"], "model")
    if model["status"] != "Created":
        raise ApiError(409, "Conflict", f"training was already started ({model['status']})")
    dataset = t.get(t.datasets, model["dataset_id"], "dataset")
    if dataset["status"] != "completed":
        raise ApiError(412, "Precondition Failed", "the dataset must be completed first")
    parameters = {**TRAINING_DEFAULTS, **body} if model["training_mode"] == "expert" else {}
    steps = int(parameters.get("total_training_steps", 750))
    interval = int(parameters.get("checkpoint_interval", 500))
    model.update(
        status="InProgress",
        training_parameters=parameters,
        checkpoint_steps=list(range(interval, steps + 1, interval)) if parameters else [],
        _started=t.clock(),
        _fails=state.faults.training(START_TRAINING) is not None,
    )
    return _json(t.model_view(model))


def stop_training(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.get(t.models, request.path_params["model_id"], "model")
    if t.model_view(model)["status"] != "InProgress":
        raise ApiError(409, "Conflict", "the model is not training")
    model["status"] = "Stopped"
    return _json(t.model_view(model))


def checkpoints(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.model_view(t.get(t.models, request.path_params["model_id"], "model"))
    items = [
        {
            "checkpoint_step": step,
            "training_job_id": 10_000 + model["id"],
            "created_at": model["updated_at"],
        }
        for step in model["checkpoint_steps"]
    ]
    return _json({"checkpoints": items, "active_model_version": model["active_model_version"]})


def _checkpoint(t: Tailored, request: Request) -> tuple[Json, int]:
    model = t.get(t.models, request.path_params["model_id"], "model")
    step = request.path_params["checkpoint_step"]
    if not step.isdigit() or int(step) not in model["checkpoint_steps"]:
        raise ApiError(404, "Not Found", f"checkpoint {step} not found")
    return model, int(step)


def checkpoint(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model, step = _checkpoint(t, request)
    view = t.model_view(model)
    return _json(
        {
            "checkpoint_step": step,
            "training_job_id": 10_000 + model["id"],
            "created_at": view["updated_at"],
        }
    )


def delete_checkpoint(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model, step = _checkpoint(t, request)
    if str(model["active_model_version"]) == str(step):
        raise ApiError(400, "Invalid request", "checkpoint_step: the active checkpoint cannot go")
    model["checkpoint_steps"] = [s for s in model["checkpoint_steps"] if s != step]
    return Response(status_code=204)


def dataset_download(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    """A zip of an advanced dataset's images and a JSON file of their captions."""
    from bria_dagster.emulator.inputs import load_bytes

    dataset = t.get(t.datasets, request.path_params["dataset_id"], "dataset")
    if dataset["upload_type"] != "advanced":
        raise ApiError(409, "Conflict", "only advanced datasets can be downloaded")
    images = list(t.images[dataset["id"]].values())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for image in images:
            archive.writestr(image["image_name"], load_bytes(state, image["image_url"], "image"))
    captions = {image["image_name"]: image["caption"] for image in images}
    return _json(
        {
            "download_url": state.store_bytes(
                buffer.getvalue(), "application/zip", "zip", endpoint="/v1"
            ),
            "captions_url": state.store_bytes(
                json.dumps(captions).encode(), "application/json", "json", endpoint="/v1"
            ),
        }
    )


def model_download(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    model = t.model_view(t.get(t.models, request.path_params["model_id"], "model"))
    if model["status"] != "Completed":
        raise ApiError(409, "Conflict", "the model has not finished training")
    return _json(
        {
            "download_url": f"{state.base_url}/files/model-{model['id']}.safetensors",
            "base_model_name": "BRIA-FIBO",
            "base_model_card": "https://huggingface.co/briaai",
        }
    )


def _listing(select: Callable[[Tailored, Request], list[Json]]) -> Handler:
    return lambda t, state, request, body: _json(select(t, request))


def _one(
    table: str, key: str, what: str, view: Callable[[Tailored, Json], Json] | None = None
) -> Handler:
    def handler(t: Tailored, state: Any, request: Request, body: Json) -> Response:
        item = t.get(getattr(t, table), request.path_params[key], what)
        return _json(view(t, item) if view else item)

    return handler


BRANDS = [
    {
        "id": i,
        "name": f"Public brand {i}",
        "description": "sandbox brand",
        "created_at": "2024-01-01",
    }
    for i in (167, 166, 122, 121, 120)
]
TEMPLATES = [
    {
        "id": 1062,
        "name": "Sandbox template (brand)",
        "description": "needs a brand_id",
        "created_at": "2024-01-01",
        "number_of_ads": 1,
        "preview": "",
    },
    {
        "id": 1061,
        "name": "Sandbox template",
        "description": "brand independent",
        "created_at": "2024-01-01",
        "number_of_ads": 1,
        "preview": "",
    },
]


def template_detail(t: Tailored, state: Any, request: Request, body: Json) -> Response:
    template_id = request.path_params["template_id"]
    if template_id not in {str(x["id"]) for x in TEMPLATES}:
        raise ApiError(404, "Not Found", f"template {template_id} not found")
    return _json(
        {
            "scene_resolutions": {"scene_1": {"width": 1080, "height": 1080}},
            "scene_1": [
                {
                    "id": 1,
                    "layer_type": "text",
                    "content_type": "Heading #1",
                    "content": "",
                    "scene_number": 1,
                },
                {
                    "id": 2,
                    "layer_type": "smartImage",
                    "content_type": "Image #1",
                    "content": "",
                    "scene_number": 1,
                },
            ],
        }
    )


def routes(state: Any) -> list[BaseRoute]:
    """The tailored workflow and ads listings as plain routes (a RouteProvider)."""
    p, d, m = "/v1/tailored-gen/projects", "/v1/tailored-gen/datasets", "/v1/tailored-gen/models"
    table: list[tuple[str, str, Handler]] = [
        ("POST", p, create_project),
        ("GET", p, _listing(lambda t, r: list(t.projects.values()))),
        ("GET", p + "/{project_id}", _one("projects", "project_id", "project")),
        ("PUT", p + "/{project_id}", update_project),
        ("DELETE", p + "/{project_id}", delete_project),
        (
            "GET",
            p + "/{project_id}/datasets",
            _listing(
                lambda t, r: [
                    _dataset_view(t, x)
                    for x in t.datasets.values()
                    if str(x["project_id"]) == r.path_params["project_id"]
                ]
            ),
        ),
        (
            "GET",
            p + "/{project_id}/models",
            _listing(
                lambda t, r: [
                    t.model_view(x)
                    for x in t.models.values()
                    if str(x["project_id"]) == r.path_params["project_id"]
                ]
            ),
        ),
        ("POST", d, create_dataset),
        ("GET", d, _listing(lambda t, r: [_dataset_view(t, x) for x in t.datasets.values()])),
        (
            "GET",
            d + "/{dataset_id}",
            _one(
                "datasets",
                "dataset_id",
                "dataset",
                lambda t, x: _dataset_view(t, x, with_images=True),
            ),
        ),
        ("PUT", d + "/{dataset_id}", update_dataset),
        ("DELETE", d + "/{dataset_id}", delete_dataset),
        ("POST", d + "/{dataset_id}/clone", clone_dataset),
        ("POST", d + "/{dataset_id}/images", upload_image),
        (
            "GET",
            d + "/{dataset_id}/images",
            _listing(
                lambda t, r: list(t.images.get(int(r.path_params["dataset_id"]), {}).values())
            ),
        ),
        ("PUT", d + "/{dataset_id}/images", regenerate_captions),
        ("POST", d + "/{dataset_id}/images/bulk-upload", bulk_upload),
        ("GET", d + "/{dataset_id}/images/bulk-upload/status", bulk_status),
        (
            "GET",
            d + "/{dataset_id}/images/{image_id}",
            lambda t, s, r, b: _json(
                t.get(
                    t.images.get(int(r.path_params["dataset_id"]), {}),
                    r.path_params["image_id"],
                    "image",
                )
            ),
        ),
        ("PUT", d + "/{dataset_id}/images/{image_id}", update_image),
        ("DELETE", d + "/{dataset_id}/images/{image_id}", delete_image),
        ("POST", "/v1/tailored-gen/generate_visual_schema", visual_schema),
        ("POST", "/v1/tailored-gen/refine_structured_prompt", refine_structured_prompt),
        ("POST", m, create_model),
        ("GET", m, _listing(lambda t, r: [t.model_view(x) for x in t.models.values()])),
        ("GET", m + "/{model_id}", _one("models", "model_id", "model", Tailored.model_view)),
        ("PUT", m + "/{model_id}", update_model),
        ("DELETE", m + "/{model_id}", delete_model),
        ("POST", m + "/{model_id}/start_training", start_training),
        ("POST", m + "/{model_id}/stop_training", stop_training),
        ("GET", m + "/{model_id}/checkpoints", checkpoints),
        ("GET", m + "/{model_id}/checkpoints/{checkpoint_step}", checkpoint),
        ("DELETE", m + "/{model_id}/checkpoints/{checkpoint_step}", delete_checkpoint),
        ("GET", "/v1/datasets/{dataset_id}/download", dataset_download),
        ("GET", m + "/{model_id}/download", model_download),
        ("GET", "/v1/ads/brands", _listing(lambda t, r: BRANDS)),
        ("GET", "/v1/ads/templates", _listing(lambda t, r: TEMPLATES)),
        ("GET", "/v1/ads/templates/{template_id}", template_detail),
    ]
    return [_route(state, method, path, handler) for method, path, handler in table]

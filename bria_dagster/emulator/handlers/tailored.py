"""The v1 tailored-generation routes: HTTP over :class:`~.backends.tailored.Tailored`.

Bodies are validated with the client's catalog models (:func:`~.routing.json_route`); the
workflow's rules (201/204/409/412, training by time) are the backend's. Its state hangs on
``state.extensions`` and is cleared by a reset.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from bria_dagster.emulator.backends.tailored import Tailored
from bria_dagster.emulator.backends.tailored.datasets import bulk_report, check_resolution
from bria_dagster.emulator.backends.tailored.records import Json
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.inputs import load_bytes, open_image
from bria_dagster.emulator.routing import json_route

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState

START_TRAINING = "/v1/tailored-gen/models/{model_id}/start_training"
PROJECTS = "/v1/tailored-gen/projects"
DATASETS = "/v1/tailored-gen/datasets"
MODELS = "/v1/tailored-gen/models"

Reply = Json | list[Json] | None
Handler = Callable[[Tailored, "EmulatorState", Request, Json], Awaitable[Response] | Response]
"""A tailored route: the workflow, the emulator state, the request and its JSON body."""


def tailored_of(state: EmulatorState) -> Tailored:
    """The tailored workflow state hung on the emulator state (made on first use)."""
    if "tailored" not in state.extensions:
        state.extensions["tailored"] = Tailored(
            clock=state.clock,
            training_seconds=lambda: state.config.training_seconds,
            store_file=lambda data, content_type, extension: state.store_bytes(
                data, content_type, extension, endpoint="/v1"
            ),
        )
    tailored: Tailored = state.extensions["tailored"]
    return tailored


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _id(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def _no_content() -> Response:
    return Response(status_code=204)


def upload_image(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    dataset = t.image_target(_id(request, "dataset_id"))
    value = body.get("file") or body.get("image_url")
    field_name = "file" if body.get("file") else "image_url"
    image = open_image(load_bytes(state, value, field_name), field_name)
    check_resolution(image, body.get("increase_resolution", True))
    record = t.add_image(dataset, image, body.get("image_name"), body.get("image_url"))
    return _json(record, 201)


async def bulk_upload(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    dataset = t.start_bulk(_id(request, "dataset_id"))

    def unzip() -> Json:
        return t.unzip_into(dataset, load_bytes(state, body["zip_url"], "zip_url"))

    try:
        dataset["_bulk"] = await asyncio.to_thread(unzip)
    except ApiError as error:
        dataset["_bulk"] = bulk_report("failed", 0, [], error.details or error.message)
    return _json({"status": "pending"}, 202)


def visual_schema(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    count = len(body["images"])
    if not 5 <= count <= 10:
        raise ApiError(400, "Invalid request", f"images: 5 to 10 images are needed, got {count}")
    schema = {"subject": "string", "style": "string", "background": "string"}
    return _json({"visual_schema": json.dumps(schema)})


def start_training(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    fails = lambda: state.faults.training(START_TRAINING) is not None  # noqa: E731
    return _json(t.start_training(_id(request, "model_id"), body, fails))


def dataset_download(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    """A zip of an advanced dataset's images and a JSON file of their captions."""
    read = lambda url: load_bytes(state, url, "image")  # noqa: E731
    return _json(t.export_dataset(_id(request, "dataset_id"), read))


def model_download(t: Tailored, state: EmulatorState, request: Request, body: Json) -> Response:
    model = t.downloadable_model(_id(request, "model_id"))
    return _json(
        {
            "download_url": f"{state.base_url}/files/model-{model['id']}.safetensors",
            "base_model_name": "BRIA-FIBO",
            "base_model_card": "https://huggingface.co/briaai",
        }
    )


def _call(act: Callable[..., Reply], *, body: bool = False, status: int = 200) -> Handler:
    """A handler that calls ``act(tailored, **path_params)`` (and ``body=`` the JSON body) and
    answers what it returns (204 with no body when it returns None)."""

    def handler(t: Tailored, state: EmulatorState, request: Request, json_body: Json) -> Response:
        kwargs: dict[str, Any] = dict(request.path_params)
        if body:
            kwargs["body"] = json_body
        result = act(t, **kwargs)
        return _no_content() if result is None else _json(result, status)

    return handler


T = Tailored
P, D, M = PROJECTS, DATASETS, MODELS
IMAGES = D + "/{dataset_id}/images"
CHECKPOINT = M + "/{model_id}/checkpoints/{checkpoint_step}"
TABLE: list[tuple[str, str, Handler]] = [
    ("POST", P, _call(T.create_project, body=True, status=201)),
    ("GET", P, _call(T.list_projects)),
    ("GET", P + "/{project_id}", _call(T.project)),
    ("PUT", P + "/{project_id}", _call(T.update_project, body=True)),
    ("DELETE", P + "/{project_id}", _call(T.delete_project)),
    ("GET", P + "/{project_id}/datasets", _call(T.project_datasets)),
    ("GET", P + "/{project_id}/models", _call(T.project_models)),
    ("POST", D, _call(T.create_dataset, body=True, status=201)),
    ("GET", D, _call(T.list_datasets)),
    ("GET", D + "/{dataset_id}", _call(T.dataset)),
    ("PUT", D + "/{dataset_id}", _call(T.update_dataset, body=True)),
    ("DELETE", D + "/{dataset_id}", _call(T.delete_dataset)),
    ("POST", D + "/{dataset_id}/clone", _call(T.clone_dataset, body=True, status=201)),
    ("POST", IMAGES, upload_image),
    ("GET", IMAGES, _call(T.dataset_images)),
    ("PUT", IMAGES, _call(T.regenerate_captions, status=202)),
    ("POST", IMAGES + "/bulk-upload", bulk_upload),
    ("GET", IMAGES + "/bulk-upload/status", _call(T.bulk_status)),
    ("GET", IMAGES + "/{image_id}", _call(T.image)),
    ("PUT", IMAGES + "/{image_id}", _call(T.caption_image, body=True)),
    ("DELETE", IMAGES + "/{image_id}", _call(T.delete_image)),
    ("POST", "/v1/tailored-gen/generate_visual_schema", visual_schema),
    (
        "POST",
        "/v1/tailored-gen/refine_structured_prompt",
        _call(T.refine_structured_prompt, body=True),
    ),
    ("POST", M, _call(T.create_model, body=True, status=201)),
    ("GET", M, _call(T.list_models)),
    ("GET", M + "/{model_id}", _call(T.model)),
    ("PUT", M + "/{model_id}", _call(T.update_model, body=True)),
    ("DELETE", M + "/{model_id}", _call(T.delete_model)),
    ("POST", START_TRAINING, start_training),
    ("POST", M + "/{model_id}/stop_training", _call(T.stop_training)),
    ("GET", M + "/{model_id}/checkpoints", _call(T.checkpoints)),
    ("GET", CHECKPOINT, _call(T.checkpoint)),
    ("DELETE", CHECKPOINT, _call(T.delete_checkpoint)),
    ("GET", "/v1/datasets/{dataset_id}/download", dataset_download),
    ("GET", M + "/{model_id}/download", model_download),
]
"""Every tailored route: method, path, handler."""


def routes(state: EmulatorState) -> list[BaseRoute]:
    """The tailored workflow as plain routes (a RouteProvider)."""

    def bound(handler: Handler) -> Callable[[Request, Json], Awaitable[Response] | Response]:
        return lambda request, body: handler(tailored_of(state), state, request, body)

    return [json_route(state, method, path, bound(handler)) for method, path, handler in TABLE]

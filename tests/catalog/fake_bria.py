"""A small Bria-speaking server for the catalog's tests (starlette on uvicorn, 127.0.0.1).

It validates every JSON body with the catalog's own request models (as the emulator does),
answers v2 jobs with 202 + status (or 200 with ``sync: true``), v1 calls synchronously, keeps
tailored projects / datasets / images / models in memory, serves a presigned-upload target,
and records what it received. Knobs: ``fail_uploads_after`` (answer 500 to dataset image
uploads after that many), ``training_polls`` (model GETs before ``Completed``),
``training_outcome``.
"""

from __future__ import annotations

import asyncio
import email.policy
import itertools
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bria_dagster.client.catalog import OPERATIONS
from bria_dagster.client.catalog.base import to_input_error
from bria_dagster.client.catalog.registry import OperationSpec


@dataclass
class Seen:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: list[tuple[str, str]] = field(default_factory=list)


def _error(status: int, message: str) -> JSONResponse:
    body = {"error": {"code": status, "message": message, "details": message}}
    return JSONResponse({**body, "request_id": uuid.uuid4().hex}, status_code=status)


def _match(method: str, path: str) -> tuple[OperationSpec, dict[str, str]] | None:
    parts = path.rstrip("/").split("/")
    for (verb, template), spec in OPERATIONS.items():
        pattern = template.split("/")
        if verb != method or len(pattern) != len(parts):
            continue
        ids: dict[str, str] = {}
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{"):
                ids[want.strip("{}")] = got
            elif want != got:
                break
        else:
            return spec, ids
    return None


class FakeBria:
    """The server. ``url`` once started; ``reset(token)`` between tests."""

    def __init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/upload", self._upload, methods=["POST"]),
                Route("/files/{name}", self._file, methods=["GET"]),
                Route("/{path:path}", self._api, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        self.url = ""
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.reset("")

    # --- control -------------------------------------------------------------------------------

    def reset(self, token: str) -> None:
        with self._lock:
            self.token = token
            self.seen: list[Seen] = []
            self.jobs: dict[str, dict[str, Any]] = {}
            self.projects: dict[int, dict[str, Any]] = {}
            self.datasets: dict[int, dict[str, Any]] = {}
            self.images: dict[int, dict[str, Any]] = {}
            self.models: dict[int, dict[str, Any]] = {}
            self.ids = itertools.count(1)
            self.fail_uploads_after: int | None = None
            self.training_polls = 1
            self.training_outcome = "Completed"

    def requests(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),  # type: ignore[union-attr]
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Bria did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # --- HTTP ----------------------------------------------------------------------------------

    async def _file(self, request: Request) -> Response:
        return Response(b"\x89PNG fake", media_type="image/png")

    async def _upload(self, request: Request) -> Response:
        # Parsed with the standard library's MIME parser (no python-multipart needed).
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.default).parsebytes(head + await request.body())
        fields = [
            (
                str(part.get_param("name", header="content-disposition")),
                "<file>" if part.get_filename() else part.get_content(),
            )
            for part in message.iter_parts()
        ]
        with self._lock:
            self.seen.append(Seen("POST", "/upload", dict(request.headers), form=fields))
        return Response(status_code=204)

    async def _api(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        body = await request.json() if await request.body() else None
        with self._lock:
            self.seen.append(Seen(request.method, path, dict(request.headers), json=body))
        if request.headers.get("api_token") != self.token:
            return _error(401, "Unauthorized")
        if request.method == "GET" and path.startswith("/v2/status/"):
            return self._status(path.rsplit("/", 1)[-1])
        found = _match(request.method, path)
        if found is None:
            return _error(404, f"no route {request.method} {path}")
        spec, ids = found
        if spec.request_model is not None:
            try:
                spec.request_model.model_validate(body or {})
            except ValidationError as exc:
                return _error(400, str(to_input_error(exc, spec.request_model)))
        with self._lock:
            if spec.path.startswith("/v2/") and spec.sync != "always":
                return self._job(spec, body or {})
            return self._v1(spec, ids, body or {}, dict(request.query_params))

    # --- v2 jobs ---------------------------------------------------------------------------------

    def _result(self, spec: OperationSpec, rid: str) -> dict[str, Any]:
        kind = spec.result_kind
        if kind == "video":
            return {"video_url": f"{self.url}/files/{rid}.mp4"}
        if kind == "mask":
            return {"mask_url": f"{self.url}/files/{rid}.mp4"}
        if kind == "structured_prompt":
            return {"structured_prompt": '{"short_description": "x"}', "seed": 11}
        if kind == "structured_instruction":
            return {"structured_instruction": '{"edit_instruction": "x"}', "seed": 11}
        if kind in ("json", "images"):
            return {"url": f"{self.url}/files/{rid}.json", "results": []}
        return {"image_url": f"{self.url}/files/{rid}.png", "seed": "123"}

    def _job(self, spec: OperationSpec, body: dict[str, Any]) -> Response:
        rid = uuid.uuid4().hex
        warning = "The prompt may reference protected IP" if body.get("ip_signal") else None
        extra = {"warning": warning} if warning else {}
        result = self._result(spec, rid)
        if body.get("sync"):
            if spec.sync == "refused":
                return _error(400, "sync is not supported by this endpoint")
            return JSONResponse({"request_id": rid, "result": result, **extra})
        self.jobs[rid] = {"result": result}
        status_url = f"{self.url}/v2/status/{rid}"
        return JSONResponse({"request_id": rid, "status_url": status_url, **extra}, 202)

    def _status(self, rid: str) -> Response:
        with self._lock:
            job = self.jobs.get(rid)
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        return JSONResponse({"request_id": rid, "status": "COMPLETED", "result": job["result"]})

    # --- v1 ------------------------------------------------------------------------------------

    def _v1(
        self, spec: OperationSpec, ids: dict[str, str], body: dict[str, Any], query: dict[str, str]
    ) -> Response:
        name = spec.name
        if name.startswith("tailored.") or name == "tailored.datasets.download":
            return self._tailored(spec, {k: int(v) for k, v in ids.items() if v.isdigit()}, body)
        if name == "video.upload":
            slot = {
                "upload_url": f"{self.url}/upload",
                "upload_fields": {"key": "uploads/v.mp4", "policy": "p0", "x-amz-signature": "s"},
                "file_url": f"{self.url}/files/v.mp4",
            }
            return JSONResponse({"result": slot})
        if name.endswith(("shot_by_text", "shot_by_image")):
            shots = [[f"{self.url}/files/shot.png", "42", "s1"]]
            shots.append(["blocked:true", "error_code:422", "description:moderated"])
            return JSONResponse({"result": shots})
        if name == "product.vehicle.segment":
            return JSONResponse({"windshield": f"{self.url}/files/w.png", "tires": ""})
        if name.startswith("product.vehicle."):
            return JSONResponse({"url": f"{self.url}/files/car.png", "seed": 5})
        if name.startswith("product."):
            return JSONResponse({"result_url": f"{self.url}/files/p.png"})
        if name == "ads.generate":
            ad = {"id": "a1", "name": "scene 1", "url": f"{self.url}/files/ad.png"}
            return JSONResponse({"result": [{**ad, "resolution": {"width": 1, "height": 1}}]})
        if name == "ads.brands":
            return JSONResponse([{"id": 120, "name": "Brand"}])
        if name == "ads.templates":
            return JSONResponse([{"id": 1061, "name": "T", "number_of_ads": 2}])
        if name == "ads.template":
            layer = {"id": "l1", "layer_type": "text", "content_type": "Heading #1"}
            return JSONResponse(
                {"scene_resolutions": {"scene_1": {"width": 1, "height": 1}}, "scene_1": [layer]}
            )
        return _error(404, f"fake has no answer for {name}")

    def _tailored(self, spec: OperationSpec, ids: dict[str, int], body: dict[str, Any]) -> Response:
        name = spec.name.removeprefix("tailored.")
        now = "2026-01-01T00:00:00Z"
        if name == "generate_visual_schema":
            return JSONResponse({"visual_schema": '{"style": "flat icons"}'})
        if name == "refine_structured_prompt":
            return JSONResponse({"structured_prompt": '{"style": "refined"}'})
        if name == "projects.create":
            pid = next(self.ids)
            self.projects[pid] = {"id": pid, **body, "status": "active", "created_at": now}
            return JSONResponse(self.projects[pid], status_code=201)
        if name == "projects.list":
            return JSONResponse(list(self.projects.values()))
        if name in ("projects.get", "projects.update", "projects.delete"):
            project = self.projects.get(ids["project_id"])
            if project is None:
                return _error(404, "project not found")
            if name == "projects.delete":
                del self.projects[project["id"]]
                return Response(status_code=204)
            project.update(body)
            return JSONResponse(project)
        if name == "projects.datasets":
            pid = ids["project_id"]
            return JSONResponse([d for d in self.datasets.values() if d["project_id"] == pid])
        if name == "projects.models":
            pid = ids["project_id"]
            return JSONResponse([m for m in self.models.values() if m["project_id"] == pid])
        if name == "datasets.create":
            if body["project_id"] not in self.projects:
                return _error(404, "project not found")
            did = next(self.ids)
            self.datasets[did] = {
                "id": did,
                **body,
                "upload_type": body.get("upload_type", "basic"),
                "visual_schema": None,
                "status": "draft",
                "captions_update_status": "empty",
            }
            return JSONResponse(self.datasets[did], status_code=201)
        if name.startswith("datasets.") or name.startswith("images."):
            return self._dataset(name, ids, body)
        if name.startswith("models."):
            return self._model(name, ids, body)
        return _error(404, f"fake has no answer for {name}")

    def _dataset_view(self, dataset: dict[str, Any]) -> dict[str, Any]:
        images = [i for i in self.images.values() if i["dataset_id"] == dataset["id"]]
        return {**dataset, "images_count": len(images), "images": images}

    def _dataset(self, name: str, ids: dict[str, int], body: dict[str, Any]) -> Response:
        dataset = self.datasets.get(ids.get("dataset_id", -1))
        if dataset is None:
            return _error(404, "dataset not found")
        images = [i for i in self.images.values() if i["dataset_id"] == dataset["id"]]
        if name == "datasets.get":
            return JSONResponse(self._dataset_view(dataset))
        if name == "datasets.update":
            if body.get("status") == "completed" and len(images) < 5:
                return _error(409, "a dataset needs 5 images")
            if "visual_schema" in body and dataset["status"] == "completed":
                return _error(409, "dataset completed")
            dataset.update(body)
            return JSONResponse(dataset)
        if name == "datasets.regenerate_captions":
            for image in images:
                image["caption"] = '{"auto": true}'
            dataset["captions_update_status"] = "completed"
            return JSONResponse(dataset, status_code=202)
        if name == "images.upload":
            if dataset["status"] == "completed":
                return _error(409, "dataset completed")
            uploaded = sum(
                1 for s in self.seen if s.method == "POST" and s.path.endswith("/images")
            )
            if self.fail_uploads_after is not None and uploaded > self.fail_uploads_after:
                return _error(500, "storage hiccup")
            iid = next(self.ids)
            caption = '{"auto": true}' if dataset["visual_schema"] else None
            self.images[iid] = {
                "id": iid,
                "dataset_id": dataset["id"],
                "image_name": body.get("image_name"),
                "caption": caption,
                "caption_source": "automatic" if caption else None,
            }
            return JSONResponse(self.images[iid], status_code=201)
        if name == "images.list":
            return JSONResponse(images)
        image = self.images.get(ids.get("image_id", -1))
        if image is None or image["dataset_id"] != dataset["id"]:
            return _error(404, "image not found")
        if name == "images.get":
            return JSONResponse(image)
        if name == "images.update_caption":
            image["caption"] = body.get("caption", '{"auto": true}')
            image["caption_source"] = "manual" if "caption" in body else "automatic"
            return JSONResponse(image)
        if name == "images.delete":
            del self.images[image["id"]]
            return Response(status_code=204)
        return _error(404, f"fake has no answer for {name}")

    def _model(self, name: str, ids: dict[str, int], body: dict[str, Any]) -> Response:
        if name == "models.create":
            dataset = self.datasets.get(body["dataset_id"])
            if dataset is None or dataset["status"] != "completed":
                return _error(412, "dataset not completed")
            mid = next(self.ids)
            self.models[mid] = {
                "id": mid,
                **body,
                "status": "Created",
                "project_id": dataset["project_id"],
                "training_mode": body.get("training_mode", "fully_automated"),
                "polls": 0,
            }
            return JSONResponse(self.models[mid], status_code=201)
        if name == "models.list":
            return JSONResponse(list(self.models.values()))
        model = self.models.get(ids.get("model_id", -1))
        if model is None:
            return _error(404, "model not found")
        if name == "models.get":
            if model["status"] == "InProgress":
                model["polls"] += 1
                if model["polls"] >= self.training_polls:
                    model["status"] = self.training_outcome
            return JSONResponse(model)
        if name == "models.start_training":
            if model["status"] != "Created":
                return _error(409, "training already started")
            model.update(status="InProgress", training_parameters=body)
            return JSONResponse(model)
        if name == "models.stop_training":
            model["status"] = "Stopped"
            return JSONResponse(model)
        if name == "models.checkpoints":
            return JSONResponse(
                {"checkpoints": [{"checkpoint_step": 500}], "active_model_version": "default"}
            )
        if name == "models.download":
            return JSONResponse({"download_url": f"{self.url}/files/m.safetensors"})
        if name == "models.update":
            model.update(body)
            return JSONResponse(model)
        if name == "models.delete":
            del self.models[model["id"]]
            return Response(status_code=204)
        return _error(404, f"fake has no answer for {name}")

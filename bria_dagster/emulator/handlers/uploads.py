"""Local video upload, Bria's presigned flow: ``POST /v2/video/upload`` gives an ``upload_url``
that takes a multipart POST (fields, then ``file``) and answers 204; ``file_url`` then serves
the bytes and works as a ``video`` input."""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState

UPLOADS_PATH = "/_emulator/uploads"


def _file_part(content_type: str, body: bytes) -> bytes | None:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def routes(state: EmulatorState) -> list[BaseRoute]:
    """The upload endpoint (API, guarded by the core) and its upload target (no token)."""
    store: dict[str, bytes] = state.extensions.setdefault("uploads", {})

    async def create(request: Request) -> Response:
        key = uuid.uuid4().hex
        url = f"{state.base_url}{UPLOADS_PATH}/{key}"
        result = {
            "upload_url": url,
            "upload_fields": {"key": key, "policy": "emulated"},
            "file_url": url,
        }
        return JSONResponse({"result": result})

    async def target(request: Request) -> Response:
        key = request.path_params["key"]
        if request.method == "GET":
            if key not in store:
                return Response(status_code=404)
            return Response(store[key], media_type="video/mp4")
        data = _file_part(request.headers.get("content-type", ""), await request.body())
        if data is None:
            return Response("a multipart 'file' part is required", status_code=400)
        store[key] = data
        return Response(status_code=204)

    return [
        Route("/v2/video/upload", create, methods=["POST"]),
        Route(UPLOADS_PATH + "/{key}", target, methods=["GET", "POST"]),
    ]

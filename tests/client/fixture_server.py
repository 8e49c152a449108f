"""A tiny Bria-speaking HTTP server for the client's tests (starlette on uvicorn, in a thread).

It speaks just enough of the protocol: ``api_token`` auth, 202 + status IN_PROGRESS→COMPLETED
(or ERROR), ``sync: true`` answers, result files on a token-free path, and queued faults (any
status with headers, or a hang). It records every request it receives. The emulator will
replace it once it is ready.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def png_bytes(size: int = 32, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small real PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Fault:
    """An answer served instead of the normal one, for the next matching request."""

    method: str
    path_prefix: str
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    hang_s: float = 0.0
    """Sleep this long before answering (longer than the client's read timeout = no answer)."""


@dataclass
class FixtureState:
    token: str = ""
    polls_until_done: int = 1
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _envelope(status: int, message: str, request_id: str | None = None) -> JSONResponse:
    error = {"code": status, "message": message, "details": message}
    return JSONResponse({"error": error, "request_id": request_id or uuid.uuid4().hex}, status)


class FixtureBria:
    """The server: ``url`` once started; ``reset()`` between tests."""

    def __init__(self) -> None:
        self.state = FixtureState()
        self.file_bytes = png_bytes()
        self.app = Starlette(
            routes=[
                Route("/files/{name}", self._file, methods=["GET"]),
                Route("/v2/status/{request_id}", self._status, methods=["GET"]),
                Route("/{path:path}", self._any, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------

    def reset(self, token: str, *, polls_until_done: int = 1) -> None:
        with self.state.lock:
            self.state.token = token
            self.state.polls_until_done = polls_until_done
            self.state.jobs.clear()
            self.state.seen.clear()
            self.state.faults.clear()

    def add_fault(self, fault: Fault) -> None:
        with self.state.lock:
            self.state.faults.append(fault)

    def seen(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self.state.lock:
            return [
                s
                for s in self.state.seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fixture server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # --- handlers ------------------------------------------------------------------------------

    async def _record(self, request: Request) -> Response | None:
        """Record the request; return a fault or an auth error to answer instead."""
        body = await request.body()
        seen = Seen(request.method, request.url.path, dict(request.headers), body, time.time())
        with self.state.lock:
            self.state.seen.append(seen)
            fault = next(
                (
                    f
                    for f in self.state.faults
                    if f.method == request.method and request.url.path.startswith(f.path_prefix)
                ),
                None,
            )
            if fault is not None:
                self.state.faults.remove(fault)
        if fault is not None:
            if fault.hang_s:
                await asyncio.sleep(fault.hang_s)
            if isinstance(fault.body, bytes | str):
                return Response(fault.body, fault.status, headers=fault.headers)
            if fault.body is not None:
                return JSONResponse(fault.body, fault.status, headers=fault.headers)
            return Response(status_code=fault.status, headers=fault.headers)
        if request.url.path.startswith("/files/"):
            return None
        if request.headers.get("api_token") != self.state.token:
            return _envelope(401, "Unauthorized: missing or invalid api_token")
        return None

    def _result(self, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "image_url": f"{self.url}/files/{request_id}.png",
            "seed": "42",
            "prompt": body.get("prompt"),
        }

    async def _any(self, request: Request) -> Response:
        if (early := await self._record(request)) is not None:
            return early
        path = request.url.path
        if path.startswith("/v1/"):
            content_type = request.headers.get("content-type", "")
            is_json = content_type.startswith("application/json")
            return JSONResponse(
                {
                    "method": request.method,
                    "path": path,
                    "query": dict(request.query_params),
                    "content_type": content_type,
                    "json": await request.json() if is_json else None,
                }
            )
        if request.method != "POST" or not path.startswith("/v2/"):
            return _envelope(404, "Endpoint not found")
        body = await request.json()
        request_id = uuid.uuid4().hex
        with self.state.lock:
            self.state.jobs[request_id] = {"path": path, "body": body, "polls": 0}
        if body.get("sync") is True:
            return JSONResponse(
                {"request_id": request_id, "result": self._result(request_id, body)}
            )
        status_url = f"{self.url}/v2/status/{request_id}"
        return JSONResponse({"request_id": request_id, "status_url": status_url}, 202)

    async def _status(self, request: Request) -> Response:
        if (early := await self._record(request)) is not None:
            return early
        request_id = request.path_params["request_id"]
        with self.state.lock:
            job = self.state.jobs.get(request_id)
            if job is not None:
                job["polls"] += 1
                done = job["polls"] >= self.state.polls_until_done
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, 404)
        if not done:
            return JSONResponse({"request_id": request_id, "status": "IN_PROGRESS"})
        if job["body"].get("prompt") == "fail":
            error = {"code": 422, "message": "Content moderation failed", "details": "prompt"}
            return JSONResponse({"request_id": request_id, "status": "ERROR", "error": error})
        result = self._result(request_id, job["body"])
        return JSONResponse({"request_id": request_id, "status": "COMPLETED", "result": result})

    async def _file(self, request: Request) -> Response:
        if (early := await self._record(request)) is not None:
            return early
        name = request.path_params["name"]
        if name.startswith("expired"):
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        if name.startswith("missing"):
            return Response(status_code=404)
        if name.startswith("big"):
            return Response(b"\0" * 3000, media_type="application/octet-stream")
        if name.startswith("stream"):

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(6):
                    yield b"\1" * 1000

            return StreamingResponse(chunks(), media_type="application/octet-stream")
        return Response(self.file_bytes, media_type="image/png")

"""``/_emulator/*``: introspection and test hooks (no ``api_token``, never rate limited).

- ``GET /_emulator/stats``: the counters (:class:`~bria_dagster.emulator.stats.StatsSnapshot`).
- ``POST /_emulator/reset``: forget jobs, files, counts and limits.
- ``GET|POST /_emulator/config``: read or change runtime settings (latency, faults, rpm, ...).
- ``POST /_emulator/files``: store a result file: the raw body (streamed to disk), or with
  ``?size=N`` and no body a zero-filled file of N bytes made without writing it.
- ``POST /_emulator/jobs``: create ready-made jobs (no operation runs) for benchmarks and
  client tests: ``{"count", "endpoint", "latency_s", "result" | "error"}``.
- ``GET /_emulator/requests``: the request log (:mod:`~bria_dagster.emulator.requestlog`),
  oldest first, filtered by ``?path=`` (a glob), ``?method=`` and ``?since=`` (a ``seq``):
  ``{"requests": [...], "last_seq": N}``.

These routes are not in the request log.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bria_dagster.client.catalog.registry import family_of
from bria_dagster.emulator.bodies import read_json_object
from bria_dagster.emulator.envelope import error_response
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.lifecycle import base_url_of

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState

Handler = Callable[[Request], Awaitable[Response]]
ADMIN_PATHS = frozenset(
    f"/_emulator/{name}" for name in ("stats", "reset", "config", "files", "jobs", "requests")
)
"""The admin routes' paths (kept out of the request log)."""


class ErrorSpec(BaseModel):
    """The error a ready-made job ends with."""

    model_config = ConfigDict(extra="forbid")

    code: int | str = 500
    message: str = "Internal error"
    details: str | None = None


class JobsRequest(BaseModel):
    """Body of ``POST /_emulator/jobs``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, le=100_000)
    endpoint: str = "/v2/image/generate"
    latency_s: float | None = Field(default=None, ge=0, description="default: drawn for the family")
    result: dict[str, Any] | None = Field(
        default=None, description="default: a small PNG and a seed"
    )
    error: ErrorSpec | None = None


MAX_SIZED_FILE_BYTES = 1 << 40
"""``?size=`` cap: 1 TiB (sparse, so nothing is written), beyond any result a test needs."""


def _describe(exc: PydanticValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


def _bad_request(details: str) -> Response:
    return error_response(ApiError(400, "Invalid request", details))


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def admin_routes(state: EmulatorState) -> list[Route]:
    """The ``/_emulator/*`` routes."""

    async def stats(request: Request) -> Response:
        return JSONResponse(state.snapshot().model_dump(mode="json"))

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    def config_body() -> dict[str, Any]:
        data = state.config.model_dump(mode="json")
        if data.get("forbidden_token"):
            data["forbidden_token"] = "***"
        return data

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.configure(**await read_json_object(request, state.config.max_body_bytes))
            except ApiError as exc:
                return error_response(exc)
            except PydanticValidationError as exc:
                return _bad_request(_describe(exc))
            except ValueError as exc:
                return _bad_request(str(exc))
        return JSONResponse(config_body())

    async def files(request: Request) -> Response:
        query = request.query_params
        content_type = query.get("content_type", "application/octet-stream")
        extension = query.get("ext", "bin")
        ttl = state.config.result_ttl_s
        try:
            if "size" in query:
                size = query["size"]
                if not size.isdigit() or int(size) > MAX_SIZED_FILE_BYTES:
                    return _bad_request("size: must be a whole number of bytes, at most 1 TiB")
                stored = state.files.put_sized(int(query["size"]), content_type, extension, ttl)
            else:
                stored = await state.files.put_stream(
                    request.stream(), content_type, extension, ttl
                )
        except ValueError as exc:
            return _bad_request(str(exc))
        url = state.files.url(base_url_of(state, request), stored)
        return JSONResponse({"file_id": stored.file_id, "url": url, "size": stored.size})

    async def jobs(request: Request) -> Response:
        try:
            spec = JobsRequest.model_validate(
                await read_json_object(request, state.config.max_body_bytes)
            )
        except ApiError as exc:
            return error_response(exc)
        except PydanticValidationError as exc:
            return _bad_request(_describe(exc))
        try:
            family = family_of(spec.endpoint).name
        except ValueError as exc:
            return _bad_request(str(exc))
        base_url_of(state, request)
        result = spec.result
        if result is None and spec.error is None:
            result = {"image_url": state.store_bytes(_tiny_png(), "image/png", "png")}
        error = None
        if spec.error is not None:
            err = spec.error
            error = ApiError(500, err.message, err.details, code=err.code)
        ids = [
            state.add_ready_job(spec.endpoint, family, spec.latency_s, result, error).request_id
            for _ in range(spec.count)
        ]
        return JSONResponse({"request_ids": ids})

    async def requests(request: Request) -> Response:
        query = request.query_params
        since = query.get("since", "0")
        if not since.isdigit():
            return _bad_request("since: must be a whole number (a seq)")
        log = state.requests
        entries = log.query(query.get("path"), query.get("method"), int(since))
        return JSONResponse(
            {"requests": [entry.to_dict() for entry in entries], "last_seq": log.last_seq}
        )

    return [
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/requests", requests, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/config", config, methods=["GET", "POST"]),
        Route("/_emulator/files", files, methods=["POST"]),
        Route("/_emulator/jobs", jobs, methods=["POST"]),
    ]

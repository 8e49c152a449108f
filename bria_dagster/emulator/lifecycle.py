"""The job endpoints: submit (202 / sync 200 / v1 body) and ``GET /v2/status/{request_id}``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bria_dagster.client.catalog.families import FAMILIES
from bria_dagster.client.catalog.registry import returns_placeholders
from bria_dagster.emulator.bodies import read_json_object
from bria_dagster.emulator.contract import WARNING_KEY, JobOperation
from bria_dagster.emulator.envelope import error_response, new_request_id
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.guard import TOKEN_KEY
from bria_dagster.emulator.inputs import check_image_inputs

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bria_dagster.emulator.state import EmulatorState

logger = logging.getLogger(__name__)
STATUS_PATH = "/v2/status"


def base_url_of(state: EmulatorState, request: Request) -> str:
    """The emulator's base URL (the server sets it; else learnt from the first request)."""
    if not state.base_url:
        state.base_url = str(request.base_url).rstrip("/")
    return state.base_url


def _flags(body: dict[str, Any]) -> tuple[bool, str | None]:
    sync = body.get("sync", False)
    if not isinstance(sync, bool):
        raise ApiError(400, "Invalid request", "sync: must be true or false")
    webhook_url = body.get("webhook_url")
    if webhook_url is not None and (
        not isinstance(webhook_url, str) or not webhook_url.startswith(("http://", "https://"))
    ):
        raise ApiError(400, "Invalid request", "webhook_url: must be an http(s) URL")
    return sync, webhook_url


def submit_endpoint(
    state: EmulatorState, operation: JobOperation
) -> Callable[[Request], Awaitable[Response]]:
    """The POST handler that turns a request into a job of ``operation``."""
    family = operation.family if operation.family in FAMILIES else "other"

    async def submit(request: Request) -> Response:
        request_id = new_request_id()
        try:
            body = await read_json_object(request, state.config.max_body_bytes)
            sync, webhook_url = _flags(body)
            validated = operation.validate(body)
            if sync and operation.sync == "refused":
                raise ApiError(
                    400,
                    "Synchronous mode is not supported",
                    f"sync: {operation.path} only supports asynchronous requests (sync=false)",
                )
            if operation.image_fields:
                base_url_of(state, request)  # to recognise this emulator's own file URLs
                await asyncio.to_thread(
                    check_image_inputs, state, validated, operation.image_fields
                )
        except ApiError as exc:
            return error_response(exc, request_id)
        except Exception as exc:
            logger.exception("validation of %s failed", operation.path)
            return error_response(ApiError(500, "Internal error", type(exc).__name__), request_id)
        warning = validated.pop(WARNING_KEY, None)
        seed = validated.get("seed")
        waits = operation.sync == "always" or sync
        # Bria answers v1 ads (and v1 sync:false shots) at once with URLs that fill later.
        placeholder = operation.sync == "always" and returns_placeholders(operation.path, body)
        job = state.create_job(
            request_id,
            operation.path,
            family,
            seed if isinstance(seed, int) and not isinstance(seed, bool) else state.draw_seed(),
            webhook_url=None if waits else webhook_url,
            webhook_token=request.scope[TOKEN_KEY],
            warning=warning,
            placeholder=placeholder,
        )
        base = base_url_of(state, request)
        state.start_job(job, operation, validated)
        if not waits:
            answer: dict[str, Any] = {
                "request_id": request_id,
                "status_url": f"{base}{STATUS_PATH}/{request_id}",
            }
            if warning:
                answer["warning"] = warning
            return JSONResponse(answer, status_code=202)

        if placeholder:  # the work (a second at most), not the latency: files 404 until done_at
            assert job.future is not None
            await asyncio.wrap_future(job.future)
        else:
            await state.ended(job)
        if job.error is not None:
            return error_response(job.error, request_id)
        result = state.present_result(job.result or {})
        if sync and operation.sync_result is not None:
            result = operation.sync_result(result)
        if operation.sync == "always":
            return JSONResponse(operation.v1_body(result) if operation.v1_body else result)
        answer = {"request_id": request_id, "result": result}
        if job.warning:
            answer["warning"] = job.warning
        return JSONResponse(answer)

    return submit


def status_endpoint(state: EmulatorState) -> Callable[[Request], Awaitable[Response]]:
    """``GET /v2/status/{request_id}``: 200 with the job's state, 404 NOT_FOUND when unknown."""

    async def status(request: Request) -> Response:
        request_id = request.path_params["request_id"]
        stats = state.stats
        stats.status_polls_total += 1
        job = state.jobs.get(request_id)
        if job is None:
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404)
        stats.status_polls[request_id] += 1
        return JSONResponse(state.status_body(job))

    return status

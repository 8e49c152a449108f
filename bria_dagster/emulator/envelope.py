"""Bria's error envelope: ``{"error": {"code", "message", "details"}, "request_id"}``."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

from bria_dagster.emulator.errors import ApiError


def new_request_id() -> str:
    """A fresh request id (32 hex digits, as in Bria's examples)."""
    return uuid.uuid4().hex


def error_object(error: ApiError, *, string_code: bool = False) -> dict[str, Any]:
    """The ``error`` object of an envelope, a status body or a webhook."""
    code = str(error.code) if string_code else error.code
    return {"code": code, "message": error.message, "details": error.details or error.message}


def error_response(
    error: ApiError, request_id: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Answer an error: the envelope, or a bare JSON string when ``plain_body`` is set."""
    if error.plain_body:
        return JSONResponse(error.message, status_code=error.status, headers=headers)
    body = {"error": error_object(error), "request_id": request_id or new_request_id()}
    return JSONResponse(body, status_code=error.status, headers=headers)

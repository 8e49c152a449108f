"""Request bodies, read with a cap and parsed without surprises.

A body over the cap is refused with 413 before it is buffered: at once when its
``Content-Length`` says so, else as soon as the streamed bytes pass the cap (the rest is never
read). The bytes are gathered in one ``bytearray``, so a large body does not leave thousands of
small chunks behind in the allocator. JSON nested too deep for the parser is a 400, as any other
malformed body.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from bria_dagster.emulator.errors import ApiError

MIB = 1024 * 1024

MAX_IMAGE_INPUTS = 4
"""The most image inputs a job endpoint takes at once: a try-on's ``person_image`` and up to
three ``garment_images`` (``product_images`` likewise)."""

MAX_BODY_BYTES = MAX_IMAGE_INPUTS * (12 * MIB * 4 // 3) + MIB
"""65 MiB. Bria documents no body limit, only 12 MB per image file (413, "Image file size exceeds
the 12MB limit"); as base64 a 12 MB image is 16 MiB, so four of them plus 1 MiB of other fields is
the largest body those limits allow. Anything larger cannot be a valid request."""


def _too_large(cap: int) -> ApiError:
    return ApiError(413, "Payload too large", f"the request body is over {cap // MIB} MiB")


async def read_body(request: Request, cap: int) -> bytearray:
    """The request body, at most ``cap`` bytes; ApiError 413 beyond, before buffering more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    data = bytearray()
    async for chunk in request.stream():
        if len(data) + len(chunk) > cap:
            raise _too_large(cap)
        data += chunk
    return data


def parse_json(raw: bytes | bytearray) -> Any:
    """Parse JSON; ApiError 400 when it is malformed or nested too deep to parse."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ApiError(
            400, "Invalid JSON", "The request body is nested too deeply to be parsed"
        ) from None
    except ValueError as exc:
        raise ApiError(400, "Invalid JSON", f"The request body is not valid JSON: {exc}") from None


async def read_json_object(request: Request, cap: int, *, empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` for no body when ``empty``); ApiError 400
    otherwise, 413 over ``cap`` bytes."""
    raw = await read_body(request, cap)
    if not raw.strip():
        if empty:
            return {}
        raise ApiError(400, "Invalid request body", "The request body must be a JSON object")
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid request body", "The request body must be a JSON object")
    return body

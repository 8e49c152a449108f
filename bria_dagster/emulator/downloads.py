"""``GET|HEAD /files/{name}``: result files at expiring URLs, no ``api_token`` needed.

Served with Starlette's ``FileResponse``: streamed from disk, with ``Range`` and ``HEAD``. A bad
or expired signature gets 403 and an unknown file 404, as from a presigned S3 URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from bria_dagster.emulator.backends.files import FileAccessError

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState


def download_endpoint(state: EmulatorState) -> Callable[[Request], Awaitable[Response]]:
    """The handler serving result files."""

    async def download(request: Request) -> Response:
        if "api_token" in request.headers:
            state.stats.file_requests_with_api_token += 1
        query = request.query_params
        try:
            stored = state.files.check(
                request.path_params["name"], query.get("exp"), query.get("sig")
            )
        except FileAccessError as exc:
            return PlainTextResponse(exc.reason, status_code=exc.status)
        state.stats.file_downloads += 1
        return FileResponse(stored.path, media_type=stored.content_type)

    return download

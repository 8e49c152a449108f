"""The attribution endpoints (images and videos): which licensed data a result owes to."""

from __future__ import annotations

from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.handlers.common import Body, Work


def _attribution(ctx: OperationContext, body: Body) -> Body:
    return {"content": [{"name": "Bria licensed dataset", "share": 1.0}]}


WORK: dict[str, Work] = dict.fromkeys(
    (
        "/v2/image/attribution/by_image",
        "/v2/image/attribution/by_embedding",
        "/v2/video/attribution/by_video",
        "/v2/video/attribution/by_embedding",
    ),
    _attribution,
)
"""The work of each attribution endpoint."""

"""The ads family: v1 ad generation from templates, v2 resize and delayer, and the ads
listings (brands, templates) as plain routes."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from bria_dagster.emulator.backends.ads import BRANDS, TEMPLATES, template_layers
from bria_dagster.emulator.contract import OperationContext
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.handlers import draw
from bria_dagster.emulator.handlers.common import Body, V1Body, Work, image_input, megapixels
from bria_dagster.emulator.routing import json_route

if TYPE_CHECKING:
    from bria_dagster.emulator.state import EmulatorState


def _ads_generate(ctx: OperationContext, body: Body) -> Body:
    size = draw.size_for("1:1", megapixels(ctx, body))
    texts = [str(e.get("content")) for e in body.get("elements") or [] if e.get("content")]
    image = draw.generate(" ".join(texts) or "advert", ctx.seed, size)
    for text in texts[:1]:
        image = draw.annotate(image, text)
    url = None
    if body.get("content_moderation"):
        try:
            for text in texts:
                ctx.check_moderation(text, "elements")
        except ApiError:  # Bria: "failed ads are replaced with zero-byte files"
            url = ctx.store_bytes(b"", "image/png", "png")
    return {
        "ads": [
            {
                "id": uuid.uuid4().int % 10**8,
                "name": f"template {body['template_id']}",
                "url": url or ctx.store_image(image, "PNG"),
                "resolution": {"width": size[0], "height": size[1]},
                "editor_iframe": "",
            }
        ]
    }


def _ads_resize(ctx: OperationContext, body: Body) -> Body:
    image = image_input(ctx, body)
    results = []
    for spec in body["formats"]:
        out = draw.expand(image, draw.expanded_size(image, spec["width"] / spec["height"]))
        out = out.resize((int(spec["width"]), int(spec["height"])))
        results.append({**spec, "status": "ok", "strategy": "expand", "url": ctx.store_image(out)})
    return {"results": results}


def _ads_delayer(ctx: OperationContext, body: Body) -> Body:
    image = image_input(ctx, body)
    manifest = {
        "canvas": {"width": image.width, "height": image.height},
        "layers": [
            {
                "id": "background",
                "type": "image",
                "bbox": [0, 0, image.width, image.height],
                "z_order": 0,
            },
            {
                "id": "subject",
                "type": "image",
                "bbox": list(draw.subject_mask(image).getbbox() or (0, 0, 0, 0)),
                "z_order": 1,
            },
        ],
        "font_stylesheets": [],
    }
    return {"url": ctx.store_bytes(json.dumps(manifest).encode(), "application/json", "json")}


WORK: dict[str, Work] = {
    "/v1/ads/generate": _ads_generate,
    "/v2/ads/resize": _ads_resize,
    "/v2/ads/delayer": _ads_delayer,
}
"""The work of each ads endpoint."""
V1_BODIES: dict[str, V1Body] = {"/v1/ads/generate": lambda r: {"result": r["ads"]}}
"""How the v1 ads endpoint answers its result."""


def routes(state: EmulatorState) -> list[BaseRoute]:
    """The ads listings as plain routes (a RouteProvider)."""

    def template(request: Request, body: Body) -> Response:
        return JSONResponse(template_layers(request.path_params["template_id"]))

    return [
        json_route(state, "GET", "/v1/ads/brands", lambda r, b: JSONResponse(BRANDS)),
        json_route(state, "GET", "/v1/ads/templates", lambda r, b: JSONResponse(TEMPLATES)),
        json_route(state, "GET", "/v1/ads/templates/{template_id}", template),
    ]

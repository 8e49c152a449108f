"""The ads listings the emulator serves: Bria's public sandbox brands and templates."""

from __future__ import annotations

from typing import Any

from bria_dagster.emulator.errors import ApiError

BRANDS = [
    {
        "id": i,
        "name": f"Public brand {i}",
        "description": "sandbox brand",
        "created_at": "2024-01-01",
    }
    for i in (167, 166, 122, 121, 120)
]
TEMPLATES = [
    {
        "id": 1062,
        "name": "Sandbox template (brand)",
        "description": "needs a brand_id",
        "created_at": "2024-01-01",
        "number_of_ads": 1,
        "preview": "",
    },
    {
        "id": 1061,
        "name": "Sandbox template",
        "description": "brand independent",
        "created_at": "2024-01-01",
        "number_of_ads": 1,
        "preview": "",
    },
]


def template_layers(template_id: str) -> dict[str, Any]:
    """A template's scenes and layers (404 for a template not listed)."""
    if template_id not in {str(x["id"]) for x in TEMPLATES}:
        raise ApiError(404, "Not Found", f"template {template_id} not found")
    return {
        "scene_resolutions": {"scene_1": {"width": 1080, "height": 1080}},
        "scene_1": [
            {
                "id": 1,
                "layer_type": "text",
                "content_type": "Heading #1",
                "content": "",
                "scene_number": 1,
            },
            {
                "id": 2,
                "layer_type": "smartImage",
                "content_type": "Image #1",
                "content": "",
                "scene_number": 1,
            },
        ],
    }

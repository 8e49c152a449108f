"""Endpoint paths and what the client must know about each family.

An endpoint is named by its path below the base URL. ``"image/generate"``, ``"v2/image/generate"``
and ``"/v2/image/generate"`` all mean ``/v2/image/generate`` (as in Bria's SDK); v1 paths must be
written with their ``/v1/`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


def normalize_endpoint(endpoint: str) -> str:
    """Return the canonical ``/v2/...`` or ``/v1/...`` path of an endpoint name."""
    path = endpoint.strip()
    if not path or path.strip("/") == "":
        raise ValueError("endpoint: must name an API path, e.g. 'image/generate'")
    if "://" in path or "?" in path or ".." in path:
        raise ValueError(f"endpoint: {endpoint!r} is not an API path")
    path = "/" + path.lstrip("/")
    if not (path.startswith("/v1/") or path.startswith("/v2/")):
        path = "/v2" + path
    return path.rstrip("/")


@dataclass(frozen=True)
class EndpointFamily:
    """Timing facts about a family of endpoints, used to schedule status polls."""

    name: str
    expected_latency_s: float
    sync_allowed: bool = True


FAMILIES: dict[str, EndpointFamily] = {
    "generation": EndpointFamily("generation", 8.0),
    "structured_prompt": EndpointFamily("structured_prompt", 4.0),
    "edit": EndpointFamily("edit", 4.0),
    "fibo_edit": EndpointFamily("fibo_edit", 15.0),
    "enhance": EndpointFamily("enhance", 10.0, sync_allowed=False),
    "product": EndpointFamily("product", 6.0),
    "product_async": EndpointFamily("product_async", 20.0, sync_allowed=False),
    "attribution": EndpointFamily("attribution", 5.0, sync_allowed=False),
    "ads": EndpointFamily("ads", 90.0, sync_allowed=False),
    "video": EndpointFamily("video", 60.0, sync_allowed=False),
    "tailored": EndpointFamily("tailored", 8.0),
    "other": EndpointFamily("other", 5.0),
}

# Longest prefix wins.
_PREFIX_FAMILY: tuple[tuple[str, str], ...] = (
    ("/v2/image/generate", "generation"),
    ("/v2/structured_prompt", "structured_prompt"),
    ("/v2/structured_instruction", "structured_prompt"),
    ("/v2/image/edit/enhance", "enhance"),
    ("/v2/image/edit/product", "product"),
    ("/v2/image/edit/product/holding", "product_async"),
    ("/v2/image/edit/product/virtual-tryon", "product_async"),
    ("/v2/image/attribution", "attribution"),
    ("/v2/image/edit/remove_background", "edit"),
    ("/v2/image/edit/replace_background", "edit"),
    ("/v2/image/edit/blur_background", "edit"),
    ("/v2/image/edit/erase_foreground", "edit"),
    ("/v2/image/edit/crop_foreground", "edit"),
    ("/v2/image/edit/erase", "edit"),
    ("/v2/image/edit/gen_fill", "edit"),
    ("/v2/image/edit/expand", "edit"),
    ("/v2/image/edit/increase_resolution", "edit"),
    ("/v2/image/edit", "fibo_edit"),
    ("/v2/ads", "ads"),
    ("/v2/video", "video"),
    ("/v1/product", "product"),
    ("/v1/ads", "ads"),
    ("/v1/tailored-gen", "tailored"),
)


def family_of(endpoint: str) -> EndpointFamily:
    """The family of an endpoint (by longest matching prefix), ``other`` if none matches."""
    path = normalize_endpoint(endpoint)
    best = ""
    name = "other"
    for prefix, family in _PREFIX_FAMILY:
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > len(best):
            best, name = prefix, family
    return FAMILIES[name]

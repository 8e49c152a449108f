"""Endpoint paths: the one spelling of an endpoint name.

An endpoint is named by its path below the base URL. ``"image/generate"``, ``"v2/image/generate"``
and ``"/v2/image/generate"`` all mean ``/v2/image/generate`` (as in Bria's SDK); v1 paths must be
written with their ``/v1/`` prefix. What is known about each endpoint is in
:mod:`bria_dagster.client.catalog` (its entry, its family).
"""

from __future__ import annotations


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

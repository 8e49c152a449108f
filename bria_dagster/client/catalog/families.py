"""Latency families: how long each kind of job usually takes.

The client schedules its first status poll from a family's expected latency; the emulator draws
its job latencies per family. Every catalog entry names its family (:mod:`.registry`, which also
gives :func:`~.registry.family_of`); :data:`FAMILY_ROOTS` names the family of the paths below a
root that the catalog does not list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointFamily:
    """Timing facts about a family of endpoints, used to schedule status polls."""

    name: str
    expected_latency_s: float


FAMILIES: dict[str, EndpointFamily] = {
    family.name: family
    for family in (
        EndpointFamily("generation", 8.0),
        EndpointFamily("structured_prompt", 4.0),
        EndpointFamily("edit", 4.0),
        EndpointFamily("fibo_edit", 15.0),
        EndpointFamily("enhance", 10.0),
        EndpointFamily("product", 6.0),
        EndpointFamily("product_async", 20.0),
        EndpointFamily("attribution", 5.0),
        EndpointFamily("ads", 90.0),
        EndpointFamily("video", 60.0),
        EndpointFamily("tailored", 8.0),
        EndpointFamily("other", 5.0),
    )
}
"""Every family by name; ``other`` for a path no entry or root covers."""

FAMILY_ROOTS: dict[str, str] = {
    "/v1/product": "product",
    "/v1/ads": "ads",
    "/v1/tailored-gen": "tailored",
    "/v2/ads": "ads",
    "/v2/image/attribution": "attribution",
    "/v2/image/edit/product": "product",
    "/v2/structured_instruction": "structured_prompt",
    "/v2/structured_prompt": "structured_prompt",
    "/v2/video": "video",
}
"""Families of whole subtrees, for paths below them that the catalog does not list (a catalog
entry's own path, and the paths below it, take the entry's family)."""

"""Plain routes (not job operations) that handler modules add to the emulator app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bria_dagster.emulator.state import EmulatorState


class RouteProvider(Protocol):
    """A callable that returns extra Starlette routes, given the emulator's shared state.

    Routes under ``/v1/`` and ``/v2/`` get the core's auth, rate limits and faults; others
    (e.g. a presigned upload target) are served as they are."""

    def __call__(self, state: EmulatorState) -> list[BaseRoute]: ...

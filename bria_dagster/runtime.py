"""What assets, checks and sensors all do at execution time: read a resource, run a coroutine.

Beside (not inside) ``bria_dagster.assets`` so that the sensors need nothing of the assets'
internals.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

import dagster as dg

T = TypeVar("T")


def resource_of(context: Any, name: str, kind: type[T]) -> T:
    """The resource ``name`` of an asset, check or sensor context, checked to be a ``kind``."""
    value = getattr(context.resources, name)
    if not isinstance(value, kind):
        raise dg.Failure(
            f"resource {name!r} must be a {kind.__name__}, got {type(value).__name__}",
            allow_retries=False,
        )
    return value


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end from synchronous code, in a private loop (a worker thread when
    this thread already runs one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, "bria-step") as pool:
        return pool.submit(asyncio.run, coro).result()

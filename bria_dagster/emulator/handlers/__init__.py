"""Every Bria endpoint the emulator serves: job operations and plain routes.

``ALL_OPERATIONS`` are the job endpoints (validated with the client's catalog models, computed
with real image operations in :mod:`.draw`); ``ROUTE_PROVIDERS`` add the tailored-model
workflow, the ads listings and the video upload flow.
"""

from bria_dagster.emulator.contract import JobOperation
from bria_dagster.emulator.handlers import tailored, uploads
from bria_dagster.emulator.handlers.jobs import job_operations
from bria_dagster.emulator.routing import RouteProvider

ALL_OPERATIONS: list[JobOperation] = job_operations()
ROUTE_PROVIDERS: list[RouteProvider] = [tailored.routes, uploads.routes]

__all__ = ["ALL_OPERATIONS", "ROUTE_PROVIDERS"]

"""Every Bria endpoint the emulator serves: job operations and plain routes.

``ALL_OPERATIONS`` are the job endpoints (validated with the client's catalog models, computed
with real image operations in :mod:`.draw`, one handler map per family); ``ROUTE_PROVIDERS`` add
the tailored-model workflow, the ads listings and the video upload flow. The state those keep
lives in :mod:`bria_dagster.emulator.backends`.
"""

from bria_dagster.emulator.contract import JobOperation
from bria_dagster.emulator.handlers import ads, tailored, uploads
from bria_dagster.emulator.handlers.jobs import job_operations
from bria_dagster.emulator.routing import RouteProvider

ALL_OPERATIONS: list[JobOperation] = job_operations()
ROUTE_PROVIDERS: list[RouteProvider] = [tailored.routes, ads.routes, uploads.routes]

__all__ = ["ALL_OPERATIONS", "ROUTE_PROVIDERS"]

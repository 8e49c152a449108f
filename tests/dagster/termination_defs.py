"""One inline step with the default retry policy, for the run-termination test's CLI runs.

Everything comes from the environment the test sets (``TERM_*``); the step runs under Dagster's
default (multiprocess) executor, in a process of its own.
"""

from __future__ import annotations

import os

import dagster as dg

from bria_dagster.assets import BriaImageIOManager, bria_asset
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource

env = os.environ.get

photo = bria_asset("slow_photo", GenerateImageRequest(prompt="a slow studio photo", seed=3))

defs = dg.Definitions(
    assets=[photo],
    resources={
        "bria": BriaResource(
            api_token=dg.EnvVar("BRIA_API_TOKEN"),
            base_url=env("BRIA_BASE_URL"),
            rate_limit_backend="memory",
            poll_interval_s=0.3,
            poll_max_interval_s=0.5,
            poll_first_factor=0.05,
        ),
        "bria_storage": BriaStorageResource(uri=env("TERM_STORAGE_URI")),
        "bria_ledger": BriaLedgerResource(url=env("TERM_LEDGER_URL")),
        "bria_io_manager": BriaImageIOManager(
            storage=BriaStorageResource(uri=env("TERM_STORAGE_URI"))
        ),
    },
)

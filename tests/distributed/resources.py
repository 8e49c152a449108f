"""The resources the distributed tests' definitions deploy, from the environment the test sets."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from bria_dagster.assets import BriaImageIOManager
from bria_dagster.resources import BriaLedgerResource, BriaResource, BriaStorageResource


def deployed_resources(storage: BriaStorageResource, **bria: Any) -> dict[str, Any]:
    """The Bria resources on the emulator (``BRIA_BASE_URL``, fast polling, ``bria`` fields on
    top), ``storage``, and the ledger at ``DIST_LEDGER_URL``."""
    return {
        "bria": BriaResource(
            api_token=dg.EnvVar("BRIA_API_TOKEN"),
            base_url=os.environ.get("BRIA_BASE_URL"),
            poll_interval_s=0.3,
            poll_max_interval_s=1.0,
            poll_first_factor=0.1,
            wait_timeout_s=120.0,
            **bria,
        ),
        "bria_storage": storage,
        "bria_ledger": BriaLedgerResource(url=os.environ.get("DIST_LEDGER_URL")),
        "bria_io_manager": BriaImageIOManager(storage=storage),
    }

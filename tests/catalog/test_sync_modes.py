"""The client decides ``sync: true`` from the endpoint family; the catalog says it per operation.
The two must agree, or ``client.run`` would send ``sync: true`` to an async-only endpoint."""

from __future__ import annotations

import pytest

from bria_dagster.client.catalog import CATALOG
from bria_dagster.client.endpoints import family_of

V2_JOBS = sorted(p for p, s in CATALOG.items() if p.startswith("/v2/") and s.sync != "always")


@pytest.mark.parametrize("path", V2_JOBS)
def test_family_sync_rule_matches_the_catalog(path: str) -> None:
    assert family_of(path).sync_allowed == (CATALOG[path].sync == "allowed")

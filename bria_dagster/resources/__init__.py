"""Dagster resources: the Bria API client, the object store and the request ledger."""

from bria_dagster.resources.bria import BriaResource
from bria_dagster.resources.ledger import BriaLedgerResource
from bria_dagster.resources.storage import BriaStorageResource, default_storage_uri

__all__ = ["BriaLedgerResource", "BriaResource", "BriaStorageResource", "default_storage_uri"]

"""Object storage for Bria results (layer 3): URI-addressed, write-once, with provenance.

``file://`` (or a plain path), ``s3://``, ``gs://``, ``az://`` and ``memory://`` through
universal-pathlib / fsspec. Imports nothing from Dagster or the client: it is handed bytes.
"""

from bria_dagster.storage.errors import (
    MissingBackendError,
    ObjectNotFoundError,
    StorageAccessError,
    StorageBackendError,
    StorageError,
    StorageInputError,
)
from bria_dagster.storage.keys import check_key, encode_segment, object_key, sidecar_key
from bria_dagster.storage.store import ObjectStore, StoredObject

__all__ = [
    "MissingBackendError",
    "ObjectNotFoundError",
    "ObjectStore",
    "StorageAccessError",
    "StorageBackendError",
    "StorageError",
    "StorageInputError",
    "StoredObject",
    "check_key",
    "encode_segment",
    "object_key",
    "sidecar_key",
]

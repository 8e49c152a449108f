"""``BriaStorageResource``: where results are stored, as a URI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from bria_dagster.storage import ObjectStore

STORAGE_URI_ENV = "BRIA_STORAGE_URI"


def default_storage_uri() -> str:
    """``$BRIA_STORAGE_URI``, else ``bria_images`` in ``$DAGSTER_HOME``, else in the cwd."""
    configured = os.environ.get(STORAGE_URI_ENV)
    if configured:
        return configured
    home = os.environ.get("DAGSTER_HOME")
    return (Path(home) if home else Path.cwd()).joinpath("bria_images").resolve().as_uri()


class BriaStorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # the resource is its own value
    """The object store results are written to (write-once, with provenance).

    ``uri``: ``file:///abs/folder`` or a plain path, ``s3://bucket/prefix``, ``gs://...``,
    ``az://...``; unset, :func:`default_storage_uri`. For S3-compatible servers set
    ``endpoint_url``; credentials come from ``access_key_id``/``secret_access_key`` (pass them as
    ``dg.EnvVar``) or the backend's usual environment. ``storage_options`` go to fsspec as is.
    """

    uri: str | None = Field(default=None, description="Storage URI; unset: BRIA_STORAGE_URI.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint.")
    region: str | None = Field(default=None, description="S3 region.")
    access_key_id: str | None = Field(default=None, description="S3 key id (use EnvVar).")
    secret_access_key: str | None = Field(default=None, description="S3 secret (use EnvVar).")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="Extra fsspec options."
    )

    _store: ObjectStore | None = PrivateAttr(default=None)

    def get_store(self) -> ObjectStore:
        """The :class:`ObjectStore` (no I/O until used)."""
        if self._store is None:
            options = dict(self.storage_options)
            if self.endpoint_url:
                options.setdefault("endpoint_url", self.endpoint_url)
            if self.access_key_id:
                options.setdefault("key", self.access_key_id)
            if self.secret_access_key:
                options.setdefault("secret", self.secret_access_key)
            if self.region:
                options.setdefault("client_kwargs", {"region_name": self.region})
            self._store = ObjectStore.from_uri(self.uri or default_storage_uri(), options)
        return self._store

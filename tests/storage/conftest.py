"""Storage tests run against file:// (a tmp folder), memory:// and a real SeaweedFS S3 server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from bria_dagster.storage import ObjectStore

from .seaweedfs import S3Endpoint, seaweedfs

__all__ = ["S3Endpoint", "seaweedfs"]


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A fresh, empty store per test on each backend (S3: a new prefix in the session bucket)."""
    if request.param == "file":
        return ObjectStore.from_uri(f"file://{tmp_path}/store")
    endpoint: S3Endpoint = request.getfixturevalue("seaweedfs")
    prefix = f"t-{secrets.token_hex(6)}"
    return ObjectStore.from_uri(f"s3://{endpoint.bucket}/{prefix}", endpoint.storage_options())


@pytest.fixture
def memory_store() -> Iterator[ObjectStore]:
    """A memory:// store under a fresh prefix, removed afterwards."""
    prefix = f"/t-{secrets.token_hex(6)}"
    yield ObjectStore.from_uri(f"memory://{prefix}")
    fs = fsspec.filesystem("memory")
    if fs.exists(prefix):
        fs.rm(prefix, recursive=True)

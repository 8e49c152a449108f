"""What an S3 object carries, checked with an independent client against SeaweedFS."""

from __future__ import annotations

import secrets

import pytest
import s3fs

from bria_dagster.storage import ObjectStore, object_key

from .seaweedfs import S3Endpoint

MIB = 1024 * 1024


@pytest.fixture
def client(seaweedfs: S3Endpoint) -> s3fs.S3FileSystem:
    """A plain s3fs client, not the store's, to inspect what landed in the bucket."""
    return s3fs.S3FileSystem(
        skip_instance_cache=True, use_listings_cache=False, **seaweedfs.storage_options()
    )


@pytest.fixture
def s3_store(seaweedfs: S3Endpoint) -> ObjectStore:
    prefix = f"s3test-{secrets.token_hex(6)}"
    return ObjectStore.from_uri(f"s3://{seaweedfs.bucket}/{prefix}", seaweedfs.storage_options())


def test_objects_carry_content_type_and_small_ascii_metadata(
    s3_store: ObjectStore, client: s3fs.S3FileSystem
) -> None:
    key = object_key(["bria", "gen"], "SKU-1", "ab" * 32, "png")
    provenance = {
        "request_id": "req-42",
        "endpoint": "/v2/image/generate",
        "seed": 7,
        "prompt": "not copied into metadata",
    }
    stored = s3_store.put(key, [b"\x89PNG"], content_type="image/png", provenance=provenance)
    path = stored.uri.removeprefix("s3://")

    assert client.info(path)["ContentType"] == "image/png"
    assert client.metadata(path) == {
        "request-id": "req-42",
        "endpoint": "/v2/image/generate",
        "seed": "7",
    }
    assert client.info(path + ".json")["ContentType"] == "application/json"


def test_non_ascii_metadata_is_percent_encoded(
    s3_store: ObjectStore, client: s3fs.S3FileSystem
) -> None:
    provenance = {"request_id": "réq-1 ✓", "endpoint": "e" * 400}
    stored = s3_store.put("a/b.png", [b"x"], content_type="image/png", provenance=provenance)

    metadata = client.metadata(stored.uri.removeprefix("s3://"))

    assert metadata["request-id"] == "r%C3%A9q-1 %E2%9C%93"
    assert metadata["endpoint"] == "e" * 256
    assert s3_store.read_provenance("a/b.png")["request_id"] == "réq-1 ✓"


def test_large_objects_go_up_as_multipart(s3_store: ObjectStore, client: s3fs.S3FileSystem) -> None:
    chunks = (bytes([i]) * MIB for i in range(12))
    stored = s3_store.put("big/v.mp4", chunks, content_type="video/mp4", provenance={})

    etag = client.info(stored.uri.removeprefix("s3://"))["ETag"].strip('"')

    assert etag.endswith("-3"), "12 MiB in 5 MiB parts is a 3-part upload"
    assert stored.size == 12 * MIB

"""ObjectStore behaviour, identical on file:// (tmp folder) and S3 (a real SeaweedFS server)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

from bria_dagster.storage import (
    ObjectNotFoundError,
    ObjectStore,
    StorageInputError,
    object_key,
    sidecar_key,
)

MIB = 1024 * 1024
HASH = "a1b2c3d4e5f60718" + "0" * 48
PROVENANCE = {
    "request_id": "req-123",
    "endpoint": "/v2/image/generate",
    "seed": 42,
    "prompt": "a red chair — studio light, 日本語",
}


def blocks(count: int, size: int = MIB, seed: int = 0) -> list[bytes]:
    """Deterministic, incompressible chunks."""
    out = []
    for index in range(count):
        digest = hashlib.sha256(f"{seed}-{index}".encode()).digest()
        out.append((digest * (size // len(digest) + 1))[:size])
    return out


def sha(chunks: list[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def key_for(*parts: str, partition: str | None = "p1", request_hash: str = HASH) -> str:
    return object_key(
        ["bria", *parts] if parts else ["bria", "gen"], partition, request_hash, "png"
    )


def leftovers(store: ObjectStore) -> list[str]:
    """Temporary files (file://) or open multipart uploads (S3) under the store's root."""
    fs, root = store.base_path.fs, store.base_path.path.rstrip("/")
    if store.uri.startswith("file://"):
        return [p for p in fs.find(root) if os.path.basename(p).startswith(".")]
    bucket, _, prefix = root.partition("/")
    uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix).get("Uploads")
    return [upload["Key"] for upload in uploads or []]


def test_round_trip(store: ObjectStore) -> None:
    chunks = blocks(3, 300_000)
    key = key_for()

    stored = store.put(key, iter(chunks), content_type="image/png", provenance=PROVENANCE)

    assert stored.created
    assert stored.key == key
    assert stored.size == 900_000
    assert stored.sha256 == sha(chunks)
    assert stored.content_type == "image/png"
    assert stored.uri == store.uri_for(key) == f"{store.uri}/{key}"
    assert store.exists(key)
    assert store.read_bytes(key) == b"".join(chunks)
    with store.open(key) as file:
        assert file.read(10) == chunks[0][:10]
        assert len(file.read()) == 900_000 - 10
    assert store.info(key) == dataclasses.replace(stored, created=False)
    # The URI opens the object with the same storage options (fsspec convention).
    reopened = UPath(stored.uri, **store.base_path.storage_options)
    assert reopened.read_bytes() == b"".join(chunks)


def test_second_put_never_changes_the_object(store: ObjectStore) -> None:
    key = key_for()
    first = store.put(key, blocks(2, 1000), content_type="image/png", provenance=PROVENANCE)
    pulled: list[int] = []

    def other_bytes() -> Iterator[bytes]:
        pulled.append(1)
        yield b"different bytes"

    again = store.put(
        key, other_bytes(), content_type="image/jpeg", provenance={"request_id": "req-999"}
    )

    assert not again.created
    assert (again.sha256, again.size, again.content_type) == (
        first.sha256,
        first.size,
        "image/png",
    )
    assert pulled == [], "an existing object must not cost a download"
    assert store.read_bytes(key) == b"".join(blocks(2, 1000))
    assert store.read_provenance(key)["request_id"] == "req-123"


def test_a_concurrent_writer_is_never_clobbered(store: ObjectStore) -> None:
    """The existence check passes, then another writer publishes before this one commits."""
    key = key_for()
    winner: dict[str, Any] = {}

    def slow_download() -> Iterator[bytes]:
        for index, chunk in enumerate(blocks(7)):  # 7 MiB: a multipart upload on S3
            if index == 3:
                winner["stored"] = store.put(
                    key, [b"winner"], content_type="image/png", provenance={"request_id": "w"}
                )
            yield chunk

    loser = store.put(key, slow_download(), content_type="image/png", provenance=PROVENANCE)

    assert winner["stored"].created
    assert not loser.created
    assert loser.sha256 == winner["stored"].sha256 == hashlib.sha256(b"winner").hexdigest()
    assert store.read_bytes(key) == b"winner"
    assert store.read_provenance(key)["request_id"] == "w"
    assert leftovers(store) == []


def test_streams_a_multi_mib_object_as_it_arrives(store: ObjectStore) -> None:
    """While the generator is still producing, the backend already holds earlier bytes."""
    key = key_for("video", partition=None)
    chunks = blocks(16)
    seen_in_flight: list[str] = []

    def download() -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index == 12:
                seen_in_flight.extend(leftovers(store))
            yield chunk

    stored = store.put(key, download(), content_type="video/mp4", provenance=PROVENANCE)

    assert seen_in_flight, "nothing reached the backend before the stream ended"
    assert stored.size == 16 * MIB
    assert stored.sha256 == sha(chunks)
    digest = hashlib.sha256()
    with store.open(key) as file:
        while block := file.read(MIB):
            digest.update(block)
    assert digest.hexdigest() == stored.sha256
    assert leftovers(store) == []


def test_provenance_sidecar_holds_everything(store: ObjectStore) -> None:
    key = key_for()
    stored = store.put(key, [b"\x89PNG..."], content_type="image/png", provenance=PROVENANCE)

    provenance = store.read_provenance(key)

    assert {k: provenance[k] for k in PROVENANCE} == PROVENANCE
    assert provenance["key"] == key
    assert provenance["sha256"] == stored.sha256
    assert provenance["size"] == stored.size
    assert provenance["content_type"] == "image/png"
    assert provenance["created_at"].endswith("+00:00")
    sidecar = UPath(f"{stored.uri}.json", **store.base_path.storage_options)
    assert json.loads(sidecar.read_text(encoding="utf-8")) == provenance
    assert store.list() == [key]


def test_info_without_a_sidecar_hashes_the_object(store: ObjectStore) -> None:
    key = key_for()
    stored = store.put(key, [b"abc" * 1000], content_type="image/png", provenance=PROVENANCE)
    store.base_path.fs.rm_file(f"{store.base_path.path.rstrip('/')}/{sidecar_key(key)}")

    info = store.info(key)

    assert (info.sha256, info.size, info.content_type) == (stored.sha256, 3000, "image/png")
    with pytest.raises(ObjectNotFoundError, match="no provenance sidecar"):
        store.read_provenance(key)


def test_listing_returns_object_keys_only(store: ObjectStore) -> None:
    keys = [
        key_for("a", partition="2024-01-01"),
        key_for("a", partition="2024-01-02"),
        key_for("ab", partition="x|y"),
        key_for("b", partition=None),
    ]
    for key in reversed(keys):
        store.put(key, [key.encode()], content_type="image/png", provenance={})

    assert store.list() == sorted(keys)
    assert store.list("bria/a/") == keys[:2]
    assert store.list("bria/a") == keys[:3]
    assert store.list("bria/ab/x/") == [keys[2]]
    assert store.list("bria/none/") == []
    with pytest.raises(StorageInputError, match="prefix"):
        store.list("../")


def test_a_failed_stream_leaves_nothing(store: ObjectStore) -> None:
    key = key_for()

    def broken_download() -> Iterator[bytes]:
        yield from blocks(6)  # past one S3 part: an upload is open when it breaks
        raise ConnectionResetError("download interrupted")

    with pytest.raises(ConnectionResetError, match="download interrupted"):
        store.put(key, broken_download(), content_type="image/png", provenance=PROVENANCE)

    assert not store.exists(key)
    assert store.list() == []
    assert leftovers(store) == []
    retried = store.put(key, blocks(1), content_type="image/png", provenance=PROVENANCE)
    assert retried.created and store.read_bytes(key) == blocks(1)[0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"content_type": "png"}, "content_type"),
        ({"content_type": "image/png\r\nX-Evil: 1"}, "content_type"),
        ({"provenance": {"sha256": "forged"}}, "provenance.sha256"),
        ({"provenance": {"headers": {"api_token": "t0k3n"}}}, "provenance.headers.api_token"),
        ({"provenance": {"seed": float("nan")}}, "provenance"),
        ({"provenance": {"image": b"raw"}}, "provenance"),
        ({"provenance": ["request_id"]}, "provenance"),
        ({"chunks": ["text, not bytes"]}, "chunks"),
        ({"chunks": iter([])}, "chunks"),
    ],
)
def test_bad_arguments_are_refused_and_store_nothing(
    store: ObjectStore, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "chunks": [b"data"],
        "content_type": "image/png",
        "provenance": PROVENANCE,
        **kwargs,
    }
    key = key_for()
    with pytest.raises(StorageInputError) as caught:
        store.put(key, **args)
    assert caught.value.field == field
    assert not store.exists(key)
    assert leftovers(store) == []


async def test_put_async_streams_an_async_download(store: ObjectStore) -> None:
    key = key_for("async")
    small = [bytes([i % 251]) * 4096 for i in range(600)]  # 2.4 MB in 4 KiB pieces

    async def download() -> AsyncIterator[bytes]:
        for piece in small:
            yield piece

    stored = await store.put_async(key, download(), content_type="image/png", provenance={})

    assert stored.created and stored.sha256 == sha(small) and stored.size == 600 * 4096
    assert store.read_bytes(key) == b"".join(small)
    again = await store.put_async(key, [b"other"], content_type="image/png", provenance={})
    assert not again.created and again.sha256 == stored.sha256


async def test_put_async_aborts_when_the_download_fails(store: ObjectStore) -> None:
    key = key_for("async")

    async def broken() -> AsyncIterator[bytes]:
        for chunk in blocks(3):
            yield chunk
        raise TimeoutError("read timeout")

    with pytest.raises(TimeoutError):
        await store.put_async(key, broken(), content_type="image/png", provenance={})
    assert not store.exists(key)
    assert leftovers(store) == []


def test_delete_removes_object_and_sidecar(store: ObjectStore) -> None:
    key = key_for()
    store.put(key, [b"x"], content_type="image/png", provenance={})

    store.delete(key)
    store.delete(key)  # deleting nothing is fine

    assert not store.exists(key)
    with pytest.raises(ObjectNotFoundError):
        store.read_provenance(key)
    assert store.list() == []
    root = store.base_path.path.rstrip("/")
    assert not store.base_path.fs.exists(f"{root}/{sidecar_key(key)}")


def test_missing_objects_raise_object_not_found(store: ObjectStore) -> None:
    key = key_for()
    for call in (store.info, store.read_bytes, store.open, store.read_provenance):
        with pytest.raises(ObjectNotFoundError) as caught:
            call(key)
        assert key in str(caught.value)
    assert not store.exists(key)


def test_memory_backend_round_trip_and_write_once(memory_store: ObjectStore) -> None:
    key = key_for()
    stored = memory_store.put(key, blocks(2), content_type="image/png", provenance=PROVENANCE)
    again = memory_store.put(key, [b"other"], content_type="image/png", provenance={})

    assert stored.created and not again.created
    assert memory_store.read_bytes(key) == b"".join(blocks(2))
    assert memory_store.read_provenance(key)["seed"] == 42
    assert memory_store.list() == [key]
    assert stored.uri.startswith("memory://")


def test_plain_paths_are_local_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = ObjectStore.from_uri("results")
    stored = store.put("a/b.png", [b"png"], content_type="image/png", provenance={})

    assert store.uri == f"file://{tmp_path}/results"
    assert stored.uri == f"file://{tmp_path}/results/a/b.png"
    assert (tmp_path / "results" / "a" / "b.png").read_bytes() == b"png"
    assert json.loads((tmp_path / "results" / "a" / "b.png.json").read_text())["size"] == 3


def test_memory_backend_removes_a_failed_object(memory_store: ObjectStore) -> None:
    key = key_for()

    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        memory_store.put(key, broken(), content_type="image/png", provenance={})

    assert not memory_store.exists(key)
    assert memory_store.put(key, [b"whole"], content_type="image/png", provenance={}).created

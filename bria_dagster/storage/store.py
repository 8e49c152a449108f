"""``ObjectStore``: URI-addressed, write-once object storage with provenance.

```python
store = ObjectStore.from_uri("s3://results/bria", {"endpoint_url": ..., "key": ..., "secret": ...})
key = object_key(["bria", "product_shots"], "SKU-123", request_hash, "png")
stored = store.put(key, response.iter_bytes(), content_type="image/png",
                   provenance={"request_id": rid, "endpoint": "/v2/image/generate", "seed": 7})
stored.uri        # 's3://results/bria/bria/product_shots/SKU-123/3f2a9c0d1e2b4a5c.png'
store.read_provenance(key)["request_id"]
```

Write-once: ``put`` never replaces an object. If the key is already taken, before the upload or
by a concurrent writer during it, ``put`` returns the existing object with ``created=False``
(its size, sha256 and content type) and leaves it untouched; before the upload it does not even
read ``chunks``. A deterministic key names one request, so the caller reuses the result.
Compare ``sha256`` to detect a different payload. The check during the upload is atomic on
file:// (``os.link``), S3 (``If-None-Match: *``) and GCS; on az:// only the check before the
upload runs (adlfs has no exclusive write), so two simultaneous writers may race there.

Order of a put: the object is published first (atomically, conditionally), then its sidecar
``<key>.json``. A crash between the two leaves an object without a sidecar: ``info`` then
hashes the object, and ``read_provenance`` raises :class:`ObjectNotFoundError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import mimetypes
import os
import secrets
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

from upath import UPath

from bria_dagster.storage.backends import (
    STREAM_BLOCK_SIZE,
    Location,
    open_location,
    redact,
    secret_values,
)
from bria_dagster.storage.errors import (
    ObjectNotFoundError,
    StorageAccessError,
    StorageBackendError,
    StorageError,
)
from bria_dagster.storage.keys import (
    SIDECAR_SUFFIX,
    check_key,
    check_prefix,
    sidecar_key,
)
from bria_dagster.storage.provenance import (
    check_content_type,
    check_provenance,
    object_metadata,
    sidecar_bytes,
    sidecar_record,
)
from bria_dagster.storage.uploads import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    Chunk,
    FsspecSink,
    LocalSink,
    Sink,
    Upload,
    check_chunk,
    is_already_exists,
)

logger = logging.getLogger(__name__)

ASYNC_BATCH_BYTES = 1024 * 1024
"""An async stream's small chunks are gathered up to this size per hand-off to a thread."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object in the store. ``created`` is False when ``put`` found it already there."""

    uri: str
    key: str
    size: int
    sha256: str
    content_type: str
    created: bool = False


class ObjectStore:
    """Objects under one URI prefix: ``file://`` (or a plain path), ``s3://``, ``gs://``,
    ``az://`` or ``memory://``. Build it with :meth:`from_uri`; thread-safe."""

    def __init__(self, location: Location, secrets: tuple[str, ...] = ()) -> None:
        self._location = location
        self._secrets = secrets

    @classmethod
    def from_uri(cls, uri: str, storage_options: Mapping[str, Any] | None = None) -> ObjectStore:
        """A store rooted at ``uri`` (no I/O happens here).

        ``storage_options`` go to the fsspec backend, e.g. for S3 ``endpoint_url``, ``key``,
        ``secret``, ``client_kwargs``. Secrets among them never appear in reprs or errors.
        gs:// needs ``gcsfs`` (extra ``gcs``), az:// needs ``adlfs`` (extra ``azure``);
        without them this raises :class:`MissingBackendError`.
        """
        location = open_location(uri, storage_options)
        return cls(location, secret_values(storage_options))

    def __repr__(self) -> str:
        return f"ObjectStore({self.uri!r})"

    @property
    def uri(self) -> str:
        """The store's root URI."""
        return self._location.uri()

    @property
    def base_path(self) -> UPath:
        """The root as a ``UPath`` (e.g. for Dagster's ``UPathIOManager``)."""
        return self._location.path

    def uri_for(self, key: str) -> str:
        """The URI of ``key``, readable by ``fsspec.open`` / ``UPath`` with the same options."""
        return self._location.uri(check_key(key))

    # --- writing -----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        chunks: Iterable[Chunk] | Chunk,
        *,
        content_type: str,
        provenance: Mapping[str, Any],
    ) -> StoredObject:
        """Stream ``chunks`` into a new object at ``key``; write-once (see the module doc).

        The bytes go to the backend as they come (multipart on S3); sha256 and size are
        computed on the way; the whole object is never held in memory. A bytes-like value is
        taken as one chunk. ``provenance`` is stored as the sidecar ``<key>.json`` and, for
        ``request_id``/``endpoint``/``seed``, as backend user metadata.

        Bad arguments raise :class:`StorageInputError` before any I/O (a chunk that is not
        bytes, or no bytes at all, when met). A failure mid-stream leaves nothing behind: an
        exception from ``chunks`` itself propagates unchanged, a backend failure becomes
        :class:`StorageBackendError`.
        """
        started = self._start(key, content_type, provenance)
        if isinstance(started, StoredObject):
            return started
        upload, finish = started
        try:
            for chunk in _iterate(chunks):
                with self._backend_errors("put", key):
                    upload.write(chunk)
        except BaseException:
            upload.abort()
            raise
        return finish(upload)

    async def put_async(
        self,
        key: str,
        chunks: AsyncIterable[Chunk] | Iterable[Chunk] | Chunk,
        *,
        content_type: str,
        provenance: Mapping[str, Any],
    ) -> StoredObject:
        """:meth:`put` for async code: ``chunks`` may be an async or a sync iterable.

        Blocking backend calls run in worker threads, so the event loop keeps serving.
        """
        if not isinstance(chunks, AsyncIterable):
            return await asyncio.to_thread(
                self.put, key, chunks, content_type=content_type, provenance=provenance
            )
        started = await asyncio.to_thread(self._start, key, content_type, provenance)
        if isinstance(started, StoredObject):
            return started
        upload, finish = started
        try:
            batch: list[bytes | bytearray] = []
            batched = 0
            async for chunk in chunks:
                data = check_chunk(chunk)
                batch.append(data)
                batched += len(data)
                if batched >= ASYNC_BATCH_BYTES:
                    with self._backend_errors("put", key):
                        await asyncio.to_thread(upload.write, b"".join(batch))
                    batch, batched = [], 0
            if batch:
                with self._backend_errors("put", key):
                    await asyncio.to_thread(upload.write, b"".join(batch))
        except BaseException:
            await asyncio.to_thread(upload.abort)
            raise
        return await asyncio.to_thread(finish, upload)

    def _start(
        self, key: str, content_type: str, provenance: Mapping[str, Any]
    ) -> StoredObject | tuple[Upload, Callable[[Upload], StoredObject]]:
        """Validate, return the existing object if any, else open an upload and its finisher."""
        check_key(key)
        check_content_type(content_type)
        fields = check_provenance(provenance)
        existing = self._existing(key)
        if existing is not None:
            return existing
        backend = self._location.backend
        path = self._location.fs_path(key)
        with self._backend_errors("put", key):
            sink: Sink
            if backend.local:
                sink = LocalSink(path)
            else:
                kwargs = backend.write_kwargs(content_type, object_metadata(fields))
                try:
                    sink = FsspecSink(self._location.fs, path, backend, kwargs)
                except Exception as exc:
                    if is_already_exists(exc):  # memory:// checks "xb" when opening
                        return self._taken(key)
                    raise

        def finish(upload: Upload) -> StoredObject:
            with self._backend_errors("put", key):
                created = upload.commit()
            if not created:
                return self._taken(key)
            stored = StoredObject(
                uri=self._location.uri(key),
                key=key,
                size=upload.size,
                sha256=upload.sha256,
                content_type=content_type,
                created=True,
            )
            record = sidecar_record(
                fields, key=key, size=stored.size, sha256=stored.sha256, content_type=content_type
            )
            with self._backend_errors("write the provenance sidecar of", key):
                self._write_sidecar(key, sidecar_bytes(record))
            logger.debug("stored %s (%d bytes, sha256 %s)", stored.uri, stored.size, stored.sha256)
            return stored

        return Upload(sink), finish

    def _existing(self, key: str) -> StoredObject | None:
        try:
            found = self.info(key)
        except ObjectNotFoundError:
            return None
        logger.debug("reusing existing %s", found.uri)
        return found

    def _taken(self, key: str) -> StoredObject:
        logger.debug("lost the race for %s; reusing the winner's object", key)
        return self.info(key)

    def _write_sidecar(self, key: str, data: bytes) -> None:
        path = self._location.fs_path(sidecar_key(key))
        if self._location.backend.local:
            # Replacing is right here: a sidecar only ever follows its object's creation.
            temp = os.path.join(
                os.path.dirname(path), f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
            )
            with open(temp, "xb") as file:
                file.write(data)
            os.replace(temp, path)
            return
        kwargs = self._location.backend.write_kwargs("application/json", {})
        with self._location.fs.open(path, "wb", **kwargs) as file:
            file.write(data)

    def probe(self) -> None:
        """Write and delete a small object under the prefix: the store is reachable and takes
        writes. Raises :class:`StorageAccessError` when the backend refuses (credentials,
        permissions, missing bucket), :class:`StorageBackendError` on other failures."""
        name = f"{TEMP_PREFIX}probe-{secrets.token_hex(8)}{TEMP_SUFFIX}"
        path = self._location.fs_path(name)
        fs = self._location.fs
        try:
            if self._location.backend.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            fs.pipe_file(path, b"bria-dagster storage probe")
            fs.rm_file(path)
        except Exception as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            refused = isinstance(exc, PermissionError | FileNotFoundError | NotADirectoryError)
            kind = StorageAccessError if refused else StorageBackendError
            raise kind("write a probe object under", self.uri, detail) from None

    # --- reading -----------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key``."""
        check_key(key)
        return self._stat(key) is not None

    def info(self, key: str) -> StoredObject:
        """Size, sha256 and content type of the object at ``key`` (``created`` is False).

        Read from the sidecar; when it is missing or disagrees with the object's size, the
        sha256 is computed by streaming the object.
        """
        check_key(key)
        stat = self._stat(key)
        if stat is None:
            raise ObjectNotFoundError(key)
        size = int(stat["size"])
        record = self._read_sidecar(key)
        if record is not None and record.get("size") == size and record.get("sha256"):
            sha256 = str(record["sha256"])
            content_type = str(record.get("content_type") or "application/octet-stream")
        else:
            sha256 = self._hash(key)
            content_type = str(
                stat.get("ContentType")
                or stat.get("contentType")
                or mimetypes.guess_type(key)[0]
                or "application/octet-stream"
            )
        return StoredObject(self._location.uri(key), key, size, sha256, content_type)

    def open(self, key: str) -> IO[bytes]:
        """A binary file reading the object as a stream (ranged reads on object stores)."""
        check_key(key)
        with self._backend_errors("open", key, not_found=True):
            file = self._location.fs.open(
                self._location.fs_path(key), "rb", block_size=STREAM_BLOCK_SIZE
            )
        return cast(IO[bytes], file)

    def read_bytes(self, key: str) -> bytes:
        """The whole object in memory; use :meth:`open` for large objects."""
        check_key(key)
        with self._backend_errors("read", key, not_found=True):
            data: bytes = self._location.fs.cat_file(self._location.fs_path(key))
        return data

    def read_provenance(self, key: str) -> dict[str, Any]:
        """The object's full provenance: the caller's fields plus key, size, sha256,
        content_type and created_at. Raises :class:`ObjectNotFoundError` without a sidecar."""
        check_key(key)
        record = self._read_sidecar(key)
        if record is None:
            raise ObjectNotFoundError(key, f"no provenance sidecar for key {key!r}")
        return record

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys of the objects whose key starts with ``prefix`` (sidecars excluded)."""
        check_prefix(prefix)
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self._location.fs_path(folder).rstrip("/")
        root = self._location.fs_path("")
        with self._backend_errors("list", prefix or "/"):
            try:
                paths = self._location.fs.find(base)
            except FileNotFoundError:
                paths = []
        keys = []
        for path in paths:
            key = path[len(root) :] if path.startswith(root) else None
            # Sidecars end with .json and temp files start with '.', which object keys never do.
            if not key or not key.startswith(prefix) or key.endswith(SIDECAR_SUFFIX):
                continue
            if any(segment.startswith(".") for segment in key.split("/")):
                continue
            keys.append(key)
        return sorted(keys)

    # --- deleting ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        """Remove the object and its sidecar (for tests and operations); missing is fine."""
        check_key(key)
        for path in (key, sidecar_key(key)):
            with self._backend_errors("delete", path), contextlib.suppress(FileNotFoundError):
                self._location.fs.rm_file(self._location.fs_path(path))

    # --- helpers -----------------------------------------------------------------------------

    def _stat(self, key: str) -> dict[str, Any] | None:
        with self._backend_errors("stat", key):
            try:
                stat: dict[str, Any] = self._location.fs.info(self._location.fs_path(key))
            except FileNotFoundError:
                return None
        return stat if stat.get("type") == "file" else None

    def _read_sidecar(self, key: str) -> dict[str, Any] | None:
        with self._backend_errors("read the provenance sidecar of", key):
            try:
                data = self._location.fs.cat_file(self._location.fs_path(sidecar_key(key)))
            except FileNotFoundError:
                return None
        try:
            record = json.loads(data)
        except ValueError:
            logger.warning("ignoring an unreadable provenance sidecar for %s", key)
            return None
        return record if isinstance(record, dict) else None

    def _hash(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as file, self._backend_errors("read", key):
            while block := file.read(STREAM_BLOCK_SIZE):
                digest.update(block)
        return digest.hexdigest()

    @contextlib.contextmanager
    def _backend_errors(
        self, operation: str, key: str, *, not_found: bool = False
    ) -> Iterator[None]:
        """Turn backend exceptions into :class:`StorageBackendError` with secrets redacted.

        With ``not_found``, a missing file becomes :class:`ObjectNotFoundError`.
        """
        try:
            yield
        except StorageError:
            raise
        except Exception as exc:
            if not_found and isinstance(exc, FileNotFoundError):
                raise ObjectNotFoundError(key) from None
            text = f"{type(exc).__name__}: {exc}"
            detail = redact(text, self._secrets)
            error = StorageBackendError(operation, self._location.uri(key), detail)
            if detail != text:
                raise error from None
            raise error from exc


def _iterate(chunks: Iterable[Chunk] | Chunk) -> Iterable[Chunk]:
    if isinstance(chunks, bytes | bytearray | memoryview):
        return (chunks,)
    return chunks

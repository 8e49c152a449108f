"""Streamed, write-once uploads: bytes go straight to the backend while sha256 and size add up.

A sink publishes an object only when :meth:`Sink.commit` is called, and never over an existing
one: ``commit`` returns False when the key was taken meanwhile. :meth:`Sink.abort` leaves
nothing behind.

- :class:`LocalSink` (file://) writes a hidden temporary file in the target folder, fsyncs it
  and publishes it with ``os.link``, which fails instead of replacing an existing file.
- :class:`FsspecSink` (s3://, gs://, memory://) writes through ``fs.open(path, "xb")``:
  s3fs streams parts of :data:`STREAM_BLOCK_SIZE` (multipart) and completes the upload with
  ``If-None-Match: *``, so S3 answers 412 if the key exists; the open upload is then aborted.
  az:// (adlfs has no ``"xb"``) is opened with ``"wb"``: only the store's pre-check guards it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from typing import Any, Protocol

from fsspec import AbstractFileSystem
from fsspec.spec import AbstractBufferedFile

from bria_dagster.storage.backends import STREAM_BLOCK_SIZE, Backend
from bria_dagster.storage.errors import StorageInputError

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".part"

Chunk = bytes | bytearray | memoryview


class Sink(Protocol):
    """Where an upload's bytes go before the object is published."""

    def write(self, data: bytes | bytearray) -> None: ...

    def commit(self) -> bool:
        """Publish the object; False when the key already exists (nothing is changed)."""
        ...

    def abort(self) -> None:
        """Drop everything written; never raises."""
        ...


class Upload:
    """One object being written: counts and hashes the bytes it passes to its sink.

    Thread-safe, so an async caller can hand writes to worker threads and still abort safely
    when it is cancelled mid-write.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._sha256 = hashlib.sha256()
        self._lock = threading.Lock()
        self._done = False
        self.size = 0

    def write(self, chunk: Chunk) -> None:
        """Add one chunk. Raises :class:`StorageInputError` if it is not bytes-like."""
        data = check_chunk(chunk)
        if not data:
            return
        with self._lock:
            if self._done:
                raise RuntimeError("upload already finished")
            self._sha256.update(data)
            self._sink.write(data)
            self.size += len(data)

    def commit(self) -> bool:
        """Publish; False when the key was taken by another writer meanwhile."""
        with self._lock:
            self._done = True
            if self.size == 0:
                self._sink.abort()
                raise StorageInputError("chunks", "yielded no bytes; an empty object is not stored")
            return self._sink.commit()

    def abort(self) -> None:
        """Give up; nothing written so far stays visible."""
        with self._lock:
            if not self._done:
                self._done = True
                self._sink.abort()

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes written so far."""
        return self._sha256.hexdigest()


def check_chunk(chunk: object) -> bytes | bytearray:
    """Return ``chunk`` as bytes-like or raise :class:`StorageInputError`."""
    if isinstance(chunk, bytes | bytearray):
        return chunk
    if isinstance(chunk, memoryview):
        return chunk.tobytes()
    raise StorageInputError("chunks", f"must yield bytes, got {type(chunk).__name__}")


class LocalSink:
    """Temp file beside the target, published with ``os.link`` (no clobbering)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._folder = os.path.dirname(path)
        os.makedirs(self._folder, exist_ok=True)
        self._temp = os.path.join(self._folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")
        self._file = open(self._temp, "xb")  # noqa: SIM115 - closed in commit/abort

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)

    def commit(self) -> bool:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.link(self._temp, self._path)
        except FileExistsError:
            return False
        finally:
            self.abort()
        _fsync_folder(self._folder)
        return True

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp)


class FsspecSink:
    """A buffered fsspec file opened in exclusive mode; closing it publishes the object."""

    def __init__(
        self, fs: AbstractFileSystem, path: str, backend: Backend, write_kwargs: dict[str, Any]
    ) -> None:
        self._fs = fs
        self._path = path
        self._backend = backend
        mode = "xb" if backend.exclusive else "wb"
        self._file = fs.open(path, mode, block_size=STREAM_BLOCK_SIZE, **write_kwargs)

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)

    def commit(self) -> bool:
        try:
            self._file.close()
        except Exception as exc:
            self._discard()
            if is_already_exists(exc):
                return False
            raise
        return True

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._discard()
        if self._backend.eager:
            with contextlib.suppress(Exception):
                self._fs.rm_file(self._path)

    def _discard(self) -> None:
        # Never let close() run after a failure: fsspec would publish the partial buffer.
        discard = getattr(self._file, "discard", None)
        if callable(discard):
            discard()
        if isinstance(self._file, AbstractBufferedFile):
            self._file.closed = True


def is_already_exists(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says a conditional write found the key taken."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileExistsError):
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):  # botocore ClientError
            error = response.get("Error", {})
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") == "PreconditionFailed" or status == 412:
                return True
        if getattr(current, "code", None) == 412:  # gcsfs HttpError
            return True
        current = current.__cause__ or current.__context__
    return False


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

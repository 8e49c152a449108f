"""Streaming downloads of result files: sinks, size cap, sha256 on the way (no I/O here).

A sink is a local path (written to ``<name>.part`` and renamed when complete), a binary file
object, or a callable (sync, or async with :class:`AsyncBriaClient`) that takes each chunk.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from bria_dagster.client.core import check_http_url
from bria_dagster.client.errors import BriaInputError, DownloadError
from bria_dagster.client.http_errors import parse_retry_after

CHUNK_BYTES = 1024 * 1024

ChunkCallback = Callable[[bytes], object]
Sink = str | os.PathLike[str] | BinaryIO | IO[bytes] | ChunkCallback
"""Where downloaded bytes go: a path, a binary file object, or a callable taking chunks."""


class DownloadResult(BaseModel):
    """What was downloaded: byte count, sha256 hex digest, and the host's content type."""

    model_config = ConfigDict(frozen=True)

    size: int
    sha256: str
    content_type: str | None = None


class RetryableDownloadError(DownloadError):
    """A failure worth another attempt (429, 5xx, network), with the host's ``Retry-After``."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code)


class _Writer:
    """Delivers chunks to a sink; knows whether a failed attempt can start again."""

    written = False

    def write(self, chunk: bytes) -> Awaitable[object] | None:
        raise NotImplementedError

    def can_restart(self) -> bool:
        return not self.written

    def restart(self) -> None:
        """Forget what a failed attempt wrote."""

    def commit(self) -> None:
        """Make a complete download visible."""

    def abort(self) -> None:
        """Discard a failed download."""


class _PathWriter(_Writer):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.file: BinaryIO | None = None

    def can_restart(self) -> bool:
        return True

    def restart(self) -> None:
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.part.open("wb")
        self.file.seek(0)
        self.file.truncate()

    def write(self, chunk: bytes) -> None:
        assert self.file is not None
        self.file.write(chunk)

    def commit(self) -> None:
        assert self.file is not None
        self.file.close()
        os.replace(self.part, self.path)

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
            self.part.unlink(missing_ok=True)


class _FileWriter(_Writer):
    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.start = file.tell() if file.seekable() else None

    def can_restart(self) -> bool:
        return not self.written or self.start is not None

    def restart(self) -> None:
        if self.written and self.start is not None:
            self.file.seek(self.start)
            self.file.truncate()

    def write(self, chunk: bytes) -> None:
        self.written = True
        self.file.write(chunk)

    def abort(self) -> None:
        self.restart()


class _CallbackWriter(_Writer):
    def __init__(self, callback: ChunkCallback) -> None:
        self.callback = callback

    def write(self, chunk: bytes) -> Awaitable[object] | None:
        self.written = True
        result = self.callback(chunk)
        return result if inspect.isawaitable(result) else None


def _is_async_callable(value: object) -> bool:
    method = getattr(type(value), "__call__", None)  # noqa: B004 - async __call__ of an object
    return inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(method)


def _writer(sink: object, *, allow_async: bool) -> _Writer:
    if isinstance(sink, str | os.PathLike):
        return _PathWriter(Path(os.fspath(sink)))
    if hasattr(sink, "write"):
        file: Any = sink
        if "b" not in getattr(file, "mode", "b"):
            raise BriaInputError("sink", "a file object must be opened in binary mode ('wb')")
        return _FileWriter(file)
    if callable(sink):
        if _is_async_callable(sink) and not allow_async:
            raise BriaInputError("sink", "an async callable needs AsyncBriaClient.download")
        return _CallbackWriter(sink)
    raise BriaInputError("sink", "must be a path, a binary file object or a callable")


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class DownloadJob:
    """One download: checks the answer, counts and hashes bytes, hands them to the sink."""

    def __init__(self, url: object, sink: object, max_bytes: object, *, allow_async: bool) -> None:
        self.url = check_http_url(url, "url")
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise BriaInputError("max_bytes", "must be a positive number of bytes")
        self.max_bytes = max_bytes
        self.writer = _writer(sink, allow_async=allow_async)
        self.size = 0
        self._hash = hashlib.sha256()

    def begin(self) -> None:
        """Start an attempt from zero."""
        if not self.writer.can_restart():
            raise DownloadError(f"{_where(self.url)}: failed after data reached the sink")
        self.writer.restart()
        self.size = 0
        self._hash = hashlib.sha256()

    def check(self, response: httpx.Response) -> None:
        """Raise for an error status or a declared size over the cap."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableDownloadError(
                f"{_where(self.url)}: HTTP {status}",
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 400:
            hint = " (the URL has probably expired)" if status in (403, 404, 410) else ""
            raise DownloadError(f"{_where(self.url)}: HTTP {status}{hint}", status_code=status)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise DownloadError(
                f"{_where(self.url)}: {declared} bytes exceed max_bytes={self.max_bytes}"
            )

    def feed(self, chunk: bytes) -> Awaitable[object] | None:
        """Count, hash and deliver one chunk (an awaitable when the sink is async)."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise DownloadError(f"{_where(self.url)}: more than max_bytes={self.max_bytes} bytes")
        self._hash.update(chunk)
        return self.writer.write(chunk)

    def feed_sync(self, chunk: bytes) -> None:
        """:meth:`feed` for the blocking client, whose sinks must not be async."""
        pending = self.feed(chunk)
        if pending is not None:
            if inspect.iscoroutine(pending):
                pending.close()
            raise BriaInputError("sink", "returned an awaitable: use AsyncBriaClient.download")

    def failed(self, exc: httpx.RequestError) -> DownloadError:
        """The error for a network failure: retryable while the sink can start again."""
        message = f"{_where(self.url)}: {type(exc).__name__}"
        if self.writer.can_restart():
            return RetryableDownloadError(message)
        return DownloadError(message)

    def finish(self, response: httpx.Response) -> DownloadResult:
        """Commit the sink and describe what was downloaded."""
        self.writer.commit()
        content_type = response.headers.get("content-type")
        return DownloadResult(
            size=self.size,
            sha256=self._hash.hexdigest(),
            content_type=content_type.split(";")[0].strip() if content_type else None,
        )

    def abort(self) -> None:
        """Discard partial data after the last attempt failed."""
        self.writer.abort()


def is_retryable_download(exc: BaseException) -> bool:
    """tenacity predicate: retry only :class:`RetryableDownloadError`."""
    return isinstance(exc, RetryableDownloadError)

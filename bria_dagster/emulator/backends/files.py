"""Result files: stored on disk, served at presigned-style URLs that expire.

A URL is ``{base}/files/{file_id}.{ext}?exp={unix seconds}&sig={hmac}``: no ``api_token`` needed,
403 once ``exp`` has passed or when the signature is wrong (as a presigned S3 URL). The file
itself outlives its URLs: every status read of a finished job mints fresh ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FILES_PREFIX = "/files/"


class FileAccessError(Exception):
    """A file URL that cannot be served: ``status`` is 403 (bad/expired) or 404 (unknown)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class StoredFile:
    """One result file."""

    file_id: str
    name: str
    path: Path
    content_type: str
    size: int
    ttl_s: float
    available_at: float = 0.0
    """Clock time before which the file answers 404, as a v1 placeholder URL does."""


class FileStore:
    """Stores result files and mints and checks their URLs. Thread-safe."""

    def __init__(
        self, directory: Path | None, clock: Callable[[], float] = time.time, secret: bytes = b""
    ) -> None:
        self._own_dir = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="bria-emulator-")) if directory is None else directory
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._secret = secret or os.urandom(32)
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def _new(self, content_type: str, extension: str, size: int, ttl_s: float) -> StoredFile:
        ext = extension.lstrip(".").lower() or "bin"
        if not ext.isalnum():
            raise ValueError(f"extension: {extension!r} must be letters and digits")
        file_id = uuid.uuid4().hex
        name = f"{file_id}.{ext}"
        return StoredFile(file_id, name, self.directory / name, content_type, size, ttl_s)

    def _register(self, stored: StoredFile) -> StoredFile:
        with self._lock:
            self._files[stored.file_id] = stored
        return stored

    def put_bytes(
        self,
        data: bytes,
        content_type: str,
        extension: str,
        ttl_s: float,
        available_at: float = 0.0,
    ) -> StoredFile:
        """Store ``data`` as a new file (404 until ``available_at``: a placeholder's file)."""
        stored = self._new(content_type, extension, len(data), ttl_s)
        stored.path.write_bytes(data)
        if available_at:
            stored = dataclasses.replace(stored, available_at=available_at)
        return self._register(stored)

    def put_sized(self, size: int, content_type: str, extension: str, ttl_s: float) -> StoredFile:
        """Make a file of ``size`` zero bytes without writing them (sparse): a large-result hook."""
        if size < 0:
            raise ValueError("size: must be >= 0")
        stored = self._new(content_type, extension, size, ttl_s)
        try:
            with stored.path.open("wb") as handle:
                handle.truncate(size)
        except (OSError, OverflowError) as exc:
            stored.path.unlink(missing_ok=True)
            raise ValueError(f"size: cannot make a file of {size} bytes here ({exc})") from None
        return self._register(stored)

    async def put_stream(
        self, chunks: AsyncIterable[bytes], content_type: str, extension: str, ttl_s: float
    ) -> StoredFile:
        """Store a streamed upload without holding it in memory."""
        stored = self._new(content_type, extension, 0, ttl_s)
        size = 0
        with stored.path.open("wb") as handle:
            async for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
        return self._register(
            StoredFile(stored.file_id, stored.name, stored.path, content_type, size, ttl_s)
        )

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, if stored."""
        return self._files.get(file_id)

    def _signature(self, name: str, exp: int) -> str:
        message = f"{name}.{exp}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def url(self, base_url: str, stored: StoredFile) -> str:
        """A fresh URL for the file, valid for its TTL from now."""
        exp = math.ceil(self._clock() + stored.ttl_s)
        sig = self._signature(stored.name, exp)
        return f"{base_url}{FILES_PREFIX}{stored.name}?exp={exp}&sig={sig}"

    def check(self, name: str, exp: str | None, sig: str | None) -> StoredFile:
        """The file a URL names, if its signature holds and it has not expired."""
        file_id = name.partition(".")[0]
        stored = self._files.get(file_id)
        if stored is None or stored.name != name:
            raise FileAccessError(404, "NoSuchKey")
        if not exp or not sig or not exp.isdigit():
            raise FileAccessError(403, "AccessDenied: missing exp or sig")
        if not hmac.compare_digest(sig, self._signature(name, int(exp))):
            raise FileAccessError(403, "AccessDenied: signature does not match")
        if int(exp) < self._clock():
            raise FileAccessError(403, "AccessDenied: Request has expired")
        if stored.available_at > self._clock():
            raise FileAccessError(404, "NoSuchKey")  # a placeholder whose job has not ended
        return stored

    def resolve(self, base_url: str, url: str) -> StoredFile | None:
        """The file behind one of this emulator's URLs (checked), or None for a foreign URL."""
        prefix = base_url + FILES_PREFIX
        if not url.startswith(prefix):
            return None
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        name = parts.path.rpartition("/")[2]
        return self.check(name, query.get("exp", [None])[0], query.get("sig", [None])[0])

    def refresh(self, base_url: str, value: Any) -> Any:
        """A copy of ``value`` (a job result) with every URL of this emulator's files re-minted."""
        if isinstance(value, str):
            if value.startswith(base_url + FILES_PREFIX):
                name = value[len(base_url) + len(FILES_PREFIX) :].partition("?")[0]
                stored = self._files.get(name.partition(".")[0])
                return self.url(base_url, stored) if stored else value
            return value
        if isinstance(value, dict):
            return {k: self.refresh(base_url, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.refresh(base_url, v) for v in value]
        return value

    def clear(self) -> None:
        """Delete every file (the directory stays)."""
        with self._lock:
            files, self._files = self._files, {}
        for stored in files.values():
            stored.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete every file, and the directory when this store created it."""
        self.clear()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

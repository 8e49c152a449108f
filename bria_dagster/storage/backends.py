"""What differs between storage backends, in one table, and how a URI becomes a filesystem.

Every backend is reached through universal-pathlib / fsspec. What fsspec does not unify is
how a write carries its content type and user metadata, and whether it can be conditional
(write-once); :data:`BACKENDS` holds those differences.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fsspec import AbstractFileSystem
from upath import UPath

from bria_dagster.storage.errors import MissingBackendError, StorageInputError

STREAM_BLOCK_SIZE = 5 * 1024 * 1024
"""Buffer per streamed write and read, and S3's minimum multipart part size.

s3fs buffers 50 MiB before its first part by default; 5 MiB keeps a streamed upload's memory
small (about two blocks) while allowing objects up to 48 GiB (10,000 parts).
"""


@dataclass(frozen=True)
class Backend:
    """How one family of URI schemes is written to.

    ``exclusive``: the backend honours ``open(path, "xb")`` atomically (S3 ``If-None-Match: *``,
    GCS ``ifGenerationMatch=0``), so a concurrent writer cannot be overwritten. When False the
    store can only check for an existing object before writing.
    ``eager``: the backend publishes a file when it is opened (memory://), so a failed write
    must delete it.
    """

    package: str | None
    extra: str | None
    content_type_kw: str | None = None
    metadata_kw: str | None = None
    exclusive: bool = True
    eager: bool = False
    local: bool = False

    def write_kwargs(self, content_type: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for ``fs.open(..., "wb")`` carrying content type and metadata."""
        kwargs: dict[str, Any] = {}
        if self.content_type_kw:
            kwargs[self.content_type_kw] = content_type
        if self.metadata_kw and metadata:
            kwargs[self.metadata_kw] = dict(metadata)
        return kwargs


_S3 = Backend("s3fs", "s3", content_type_kw="ContentType", metadata_kw="Metadata")
_GCS = Backend("gcsfs", "gcs", content_type_kw="content_type", metadata_kw="metadata")
# adlfs has no exclusive ("xb") mode and takes the content type only as an Azure SDK object.
_AZURE = Backend("adlfs", "azure", metadata_kw="metadata", exclusive=False)

BACKENDS: dict[str, Backend] = {
    "file": Backend(None, None, local=True),
    "memory": Backend(None, None, eager=True),
    "s3": _S3,
    "s3a": _S3,
    "gs": _GCS,
    "gcs": _GCS,
    "az": _AZURE,
    "abfs": _AZURE,
    "abfss": _AZURE,
}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SECRET_OPTION = re.compile(
    r"secret|token|password|passwd|credential|sas|connection_string|account_key|private|key$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Location:
    """A parsed store URI: its scheme, backend, filesystem and root path on that filesystem."""

    scheme: str
    backend: Backend
    path: UPath
    fs: AbstractFileSystem
    root: str

    def fs_path(self, key: str) -> str:
        """The path of ``key`` on :attr:`fs`."""
        return f"{self.root.rstrip('/')}/{key}"

    def uri(self, key: str | None = None) -> str:
        """The URI of ``key`` (or of the root), in the form fsspec and UPath read back."""
        full = self.fs_path(key) if key else self.root
        if self.backend.local:
            return f"file://{full}"
        return f"{self.scheme}://{full.lstrip('/') if self.scheme == 'memory' else full}"


def open_location(uri: str, storage_options: Mapping[str, Any] | None) -> Location:
    """Parse ``uri`` and build its filesystem. Raises before any I/O on bad input."""
    if not isinstance(uri, str) or not uri.strip():
        raise StorageInputError("uri", "must be a non-empty string such as 's3://bucket/prefix'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in uri) or "?" in uri or "#" in uri:
        raise StorageInputError("uri", f"{uri!r} holds control characters, '?' or '#'")
    options = _check_options(storage_options)
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else "file"
    backend = BACKENDS.get(scheme)
    if backend is None:
        supported = ", ".join(f"{s}://" for s in BACKENDS)
        raise StorageInputError("uri", f"unsupported scheme {scheme}:// (supported: {supported})")
    if backend.local:
        local = uri[len("file://") :] if match else os.path.expanduser(uri)
        if match and not local.startswith("/"):
            raise StorageInputError("uri", f"{uri!r}: a file:// URI needs an absolute path")
        uri = os.path.abspath(local)
    elif "use_listings_cache" not in options:
        # A listing cached by this process must never hide an object another process wrote.
        options["use_listings_cache"] = False
    if ".." in uri.split("/"):
        raise StorageInputError("uri", f"{uri!r} must not contain '..' segments")
    try:
        path = UPath(uri, **options)
        fs = path.fs
    except ImportError:
        if backend.package is None or backend.extra is None:
            raise
        raise MissingBackendError(scheme, backend.package, backend.extra) from None
    except (TypeError, ValueError) as exc:
        detail = redact(f"{type(exc).__name__}: {exc}", secret_values(options))
        raise StorageInputError(
            "storage_options", f"rejected by the {scheme}:// backend: {detail}"
        ) from None
    root = path.path.rstrip("/")
    if not backend.local and scheme != "memory" and not root:
        raise StorageInputError("uri", f"{uri!r} must name a bucket or container")
    return Location(scheme=scheme, backend=backend, path=path, fs=fs, root=root or "/")


def secret_values(storage_options: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The values of options that look like credentials (nested dicts included)."""
    found: list[str] = []

    def walk(options: Mapping[str, Any]) -> None:
        for name, value in options.items():
            if isinstance(value, Mapping):
                walk(value)
            elif isinstance(value, str) and len(value) >= 4 and _SECRET_OPTION.search(str(name)):
                found.append(value)

    walk(storage_options or {})
    return tuple(sorted(set(found), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _check_options(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    if storage_options is None:
        return {}
    if not isinstance(storage_options, Mapping):
        raise StorageInputError(
            "storage_options", f"must be a mapping, got {type(storage_options).__name__}"
        )
    for name in storage_options:
        if not isinstance(name, str):
            raise StorageInputError("storage_options", "option names must be strings")
    return dict(storage_options)
